using Nabla.Kernels;

namespace Nabla.Data;

/// <summary>A finite collection of (input, target) examples that can be read in batches by index.</summary>
public interface IDataset
{
    int Count { get; }

    /// <summary>The examples at <paramref name="indices"/>, stacked along a new first dimension.</summary>
    (Tensor X, Tensor Y) GetBatch(ReadOnlySpan<int> indices);
}

/// <summary>
/// A dataset held in memory as two tensors whose first dimension indexes the examples (PyTorch's TensorDataset).
/// Batches are gathered by copying whole rows, so reading a batch costs one memcpy per example.
/// </summary>
public sealed class TensorDataset : IDataset
{
    public TensorDataset(Tensor x, Tensor y)
    {
        if (x.Rank == 0 || y.Rank == 0 || x.Shape[0] != y.Shape[0])
            throw new ArgumentException($"TensorDataset: inputs {Tensor.ShapeString(x.Shape)} and targets {Tensor.ShapeString(y.Shape)} must have the same first dimension");
        X = x.Contiguous();
        Y = y.Contiguous();
    }

    public Tensor X { get; }

    public Tensor Y { get; }

    public int Count => X.Shape[0];

    /// <summary>The first <paramref name="n"/> examples (a view).</summary>
    public TensorDataset Take(int n) => new(X.Narrow(0, 0, Math.Min(n, Count)), Y.Narrow(0, 0, Math.Min(n, Count)));

    public (Tensor X, Tensor Y) GetBatch(ReadOnlySpan<int> indices) => (Rows(X, indices), Rows(Y, indices));

    private static Tensor Rows(Tensor t, ReadOnlySpan<int> indices)
    {
        int[] shape = [indices.Length, .. t.Shape[1..]];
        var batch = Tensor.Uninitialized(shape, t.DType, t.Device);   // every row is copied in (or an index throws)
        int row = t.Count / Math.Max(t.Shape[0], 1);
        switch (t.DType)
        {
            case DType.Float32: CopyRows(t.AsSpan<float>(), batch.AsSpan<float>(), indices, row, t.Shape[0]); break;
            case DType.Float64: CopyRows(t.AsSpan<double>(), batch.AsSpan<double>(), indices, row, t.Shape[0]); break;
            case DType.Int64: CopyRows(t.AsSpan<long>(), batch.AsSpan<long>(), indices, row, t.Shape[0]); break;
            default: CopyRows(t.AsSpan<byte>(), batch.AsSpan<byte>(), indices, row, t.Shape[0]); break;
        }
        return batch;
    }

    private static void CopyRows<T>(Span<T> src, Span<T> dst, ReadOnlySpan<int> indices, int row, int count) where T : unmanaged
    {
        for (int i = 0; i < indices.Length; i++)
        {
            int k = indices[i];
            if ((uint)k >= (uint)count) throw new IndexOutOfRangeException($"TensorDataset: index {k} is out of range for {count} examples");
            src.Slice(k * row, row).CopyTo(dst.Slice(i * row, row));
        }
    }
}
