namespace Nabla.Kernels;

/// <summary>A flat buffer of elements owned by one device. Tensors are views (a <see cref="Layout"/>) over a storage.</summary>
public abstract class Storage
{
    public abstract DType DType { get; }

    /// <summary>Number of elements the buffer holds.</summary>
    public abstract int Length { get; }
}

/// <summary>CPU storage: a managed array, so the garbage collector owns the memory and no disposal protocol leaks into user code.</summary>
public sealed class CpuStorage<T>(T[] data, DType dtype) : Storage where T : unmanaged
{
    public T[] Data { get; } = data;

    public override DType DType { get; } = dtype;

    public override int Length => Data.Length;
}
