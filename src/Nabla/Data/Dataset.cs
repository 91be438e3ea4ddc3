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
        var picks = new long[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            int k = indices[i];
            if ((uint)k >= (uint)Count) throw new IndexOutOfRangeException($"TensorDataset: index {k} is out of range for {Count} examples");
            picks[i] = k;
        }
        var index = Tensor.FromArray(picks, picks.Length);
        using (Autograd.NoGrad()) return (X.IndexSelect(0, index), Y.IndexSelect(0, index));
    }
}
