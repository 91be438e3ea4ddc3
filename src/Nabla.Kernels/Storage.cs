namespace Nabla.Kernels;

/// <summary>A flat buffer of elements owned by one device. Tensors are views (a <see cref="Layout"/>) over a storage.</summary>
public abstract class Storage(DType dtype)
{
    // A field, not a virtual property: every op reads it, and a tiny op is a few dozen such reads.
    public DType DType { get; } = dtype;

    /// <summary>Number of elements the buffer holds.</summary>
    public abstract int Length { get; }

    /// <summary>
    /// Counts the writes to the buffer: every backend op that writes it and every in-place update (an optimizer's step)
    /// calls <see cref="Touch"/>, so that a copy derived from the contents (<see cref="Derived"/>) can tell it is stale.
    /// </summary>
    public long Version { get; private set; }

    /// <summary>
    /// Records a write. Code that writes the elements itself (e.g. through <see cref="CpuStorage{T}.Data"/>) calls it,
    /// before the next op reads them.
    /// </summary>
    public void Touch() => Version++;

    /// <summary>
    /// A device's copy of the contents in another layout, which it keeps with the <see cref="Version"/> it was made from
    /// (the CPU backend's packed weight panels for batch-1 products). It lives and dies with the storage.
    /// </summary>
    internal object? Derived;
}

/// <summary>CPU storage: a managed array, so the garbage collector owns the memory and no disposal protocol leaks into user code.</summary>
public sealed class CpuStorage<T>(T[] data, DType dtype) : Storage(dtype) where T : unmanaged
{
    /// <summary>The elements. A caller that writes them calls <see cref="Storage.Touch"/>.</summary>
    public T[] Data { get; } = data;

    public override int Length => Data.Length;
}
