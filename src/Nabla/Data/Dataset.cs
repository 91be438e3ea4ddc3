using Nabla.Autodiff;
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

    public (Tensor X, Tensor Y) GetBatch(ReadOnlySpan<int> indices)
    {
        var index = Index(indices);
        using (Autograd.NoGrad()) return (X.IndexSelect(0, index), Y.IndexSelect(0, index));
    }

    /// <summary>
    /// <see cref="GetBatch"/> started ahead of need (<see cref="IBackend.BeginIndexSelect"/>): the indices are checked
    /// now, the rows are copied while the caller goes on, and <see cref="PendingBatch.Wait"/> hands the batch over.
    /// </summary>
    internal PendingBatch BeginBatch(ReadOnlySpan<int> indices)
    {
        var index = Index(indices);
        var x = Begin(X, index, out var xCopy);
        var y = Begin(Y, index, out var yCopy);
        return new PendingBatch(x, y, xCopy, yCopy);
    }

    private static Tensor Begin(Tensor source, Tensor index, out IPending copy)
    {
        var shape = (int[])source.Shape.Clone();
        shape[0] = index.Count;
        var batch = Tensor.Uninitialized(shape, source.DType, source.Device);
        copy = source.Device.Backend.BeginIndexSelect(source.View, index.View, 0, batch.View);
        return batch;
    }

    private Tensor Index(ReadOnlySpan<int> indices)
    {
        var picks = new long[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            int k = indices[i];
            if ((uint)k >= (uint)Count) throw new IndexOutOfRangeException($"TensorDataset: index {k} is out of range for {Count} examples");
            picks[i] = k;
        }
        return Tensor.FromArray(picks, picks.Length);
    }
}

/// <summary>A batch whose rows may still be being copied: read it only through <see cref="Wait"/>.</summary>
internal sealed class PendingBatch(Tensor x, Tensor y, IPending xCopy, IPending yCopy)
{
    public (Tensor X, Tensor Y) Wait()
    {
        xCopy.Wait();
        yCopy.Wait();
        return (x, y);
    }
}
