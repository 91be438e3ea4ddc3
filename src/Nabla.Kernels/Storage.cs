namespace Nabla.Kernels;

/// <summary>A flat buffer of elements owned by one device. Tensors are views (a <see cref="Layout"/>) over a storage.</summary>
public abstract class Storage(DType dtype)
{
    // A field, not a virtual property: every op reads it, and a tiny op is a few dozen such reads.
    public DType DType { get; } = dtype;

    /// <summary>Number of elements the buffer holds.</summary>
    public abstract int Length { get; }
}

/// <summary>CPU storage: a managed array, so the garbage collector owns the memory and no disposal protocol leaks into user code.</summary>
public sealed class CpuStorage<T>(T[] data, DType dtype) : Storage(dtype) where T : unmanaged
{
    public T[] Data { get; } = data;

    public override int Length => Data.Length;
}
