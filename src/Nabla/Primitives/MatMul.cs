using Nabla.Autodiff;

namespace Nabla.Primitives;

/// <summary>
/// Y = A·B for matrices or broadcast batches of matrices ([..., m, k]·[..., k, n]).
/// Ā = Ȳ·Bᵀ and B̄ = Aᵀ·Ȳ, summed over broadcast batch dimensions; Ẏ = Ȧ·B + A·Ḃ.
/// </summary>
internal sealed class MatMul : Function
{
    public override string Name => "MatMul";

    public static Tensor Apply(Tensor a, Tensor b)
    {
        a.CheckSameDevice(b, "MatMul");
        int m = a.Shape[^2], k = a.Shape[^1], k2 = b.Shape[^2], n = b.Shape[^1];
        if (k != k2)
            throw new ArgumentException($"MatMul: cannot multiply {Tensor.ShapeString(a.Shape)} by {Tensor.ShapeString(b.Shape)}: inner dimensions {k} and {k2} differ");
        if (a.DType != b.DType)
            throw new ArgumentException($"MatMul: dtypes differ ({a.DType} and {b.DType}); convert one with To()");
        var batch = Shapes.Broadcast(a.Shape[..^2], b.Shape[..^2], "MatMul");
        int[] shapeA = [.. batch, m, k], shapeB = [.. batch, k, n], shapeY = [.. batch, m, n];
        var y = Tensor.Uninitialized(shapeY, a.DType, a.Device);
        a.Device.Backend.MatMul(a.BroadcastView(shapeA), b.BroadcastView(shapeB), y.View, accumulate: false);
        return Record(y, static () => new MatMul(), a, b);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy)
    {
        var (a, b) = (Inputs[0], Inputs[1]);
        // Each gradient takes the memory layout of its input: when an input is a transposed view (Linear's Wᵀ), its
        // gradient is computed transposed, (Ȳᵀ·A)ᵀ rather than Aᵀ·Ȳ, so that the Transpose VJP hands the weight a
        // contiguous gradient and the optimizer needs no copy. The products are the same; only the output order differs.
        Tensor? da = !a.RequiresGrad ? null : (IsTransposed(a) ? Apply(b, dy.T).T : Apply(dy, b.T)).SumTo(a.Shape);
        Tensor? db = !b.RequiresGrad ? null : (IsTransposed(b) ? Apply(dy.T, a).T : Apply(a.T, dy)).SumTo(b.Shape);
        return [da, db];
    }

    /// <summary>Whether swapping the last two axes of <paramref name="t"/> gives a contiguous tensor.</summary>
    private static bool IsTransposed(Tensor t) => t.Rank >= 2 && !t.IsContiguous && t.T.IsContiguous;

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx)
    {
        Tensor? t1 = dx[0] is { } da ? Apply(da, x[1]) : null;
        Tensor? t2 = dx[1] is { } db ? Apply(x[0], db) : null;
        var t = t1 is null ? t2! : t2 is null ? t1 : t1 + t2;
        return Shapes.Equal(t.Shape, y.Shape) ? t : t.Expand(y.Shape);
    }
}
