namespace Nabla.Kernels;

/// <summary>
/// A buffer of element indices that a kernel produces for a later one (max pooling's winners, read by its backward
/// pass). It is its own object so that the backend can recycle the array once nothing refers to the buffer.
/// </summary>
public sealed class IndexBuffer(int[] data)
{
    public int[] Data { get; } = data;

    public int Length => Data.Length;
}
