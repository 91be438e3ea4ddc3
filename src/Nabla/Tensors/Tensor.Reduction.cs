using Nabla.Kernels;
using Nabla.Primitives;

namespace Nabla;

public sealed partial class Tensor
{
    /// <summary>Sum over <paramref name="axes"/> (all when none are given).</summary>
    public Tensor Sum(int[]? axes = null, bool keepDim = false) => Primitives.Sum.Apply(this, Shapes.Axes(axes, Rank, "Sum"), keepDim);

    public Tensor Sum(int axis, bool keepDim = false) => Sum([axis], keepDim);

    /// <summary>Mean over <paramref name="axes"/> (all when none are given).</summary>
    public Tensor Mean(int[]? axes = null, bool keepDim = false)
    {
        var ax = Shapes.Axes(axes, Rank, "Mean");
        int n = 1;
        foreach (int a in ax) n *= Shape[a];
        var x = DType.IsFloatingPoint() ? this : To(DType.Float32);
        return x.Sum(ax, keepDim) / n;
    }

    public Tensor Mean(int axis, bool keepDim = false) => Mean([axis], keepDim);

    /// <summary>Variance over axes with Bessel's correction by default (PyTorch's <c>correction=1</c>).</summary>
    public Tensor Var(int[]? axes = null, bool keepDim = false, int correction = 1)
    {
        var ax = Shapes.Axes(axes, Rank, "Var");
        int n = 1;
        foreach (int a in ax) n *= Shape[a];
        var centered = this - Mean(ax, keepDim: true);
        return centered.Square().Sum(ax, keepDim) / Math.Max(n - correction, 0);
    }

    public Tensor Var(int axis, bool keepDim = false, int correction = 1) => Var([axis], keepDim, correction);

    /// <summary>Maximum over axes (all when none are given); the gradient is shared among ties.</summary>
    public Tensor Max(int[]? axes = null, bool keepDim = false) => Extreme.Apply(this, ReduceOp.Max, Shapes.Axes(axes, Rank, "Max"), keepDim);

    public Tensor Max(int axis, bool keepDim = false) => Max([axis], keepDim);

    public Tensor Min(int[]? axes = null, bool keepDim = false) => Extreme.Apply(this, ReduceOp.Min, Shapes.Axes(axes, Rank, "Min"), keepDim);

    public Tensor Min(int axis, bool keepDim = false) => Min([axis], keepDim);

    /// <summary>Index of the largest element along <paramref name="axis"/> (of the flattened tensor when null); first one on ties.</summary>
    public Tensor ArgMax(int? axis = null, bool keepDim = false) => ArgReduce(ArgReduceOp.ArgMax, axis, keepDim);

    public Tensor ArgMin(int? axis = null, bool keepDim = false) => ArgReduce(ArgReduceOp.ArgMin, axis, keepDim);

    private Tensor ArgReduce(ArgReduceOp op, int? axis, bool keepDim)
    {
        if (axis is null) return Reshape(-1).ArgReduce(op, 0, keepDim: false);
        int a = NormalizeAxis(axis.Value, op.ToString());
        if (Rank == 0) return Zeros([], DType.Int64, Device);
        if (Shape[a] == 0) throw new ArgumentException($"{op}: cannot reduce over dimension {a} of size 0");
        var y = Empty(Shapes.Reduced(Shape, [a], keepDim: true), DType.Int64, Device);
        Device.Backend.ArgReduce(op, View, a, y.View);
        return keepDim ? y : y.Reshape(Shapes.Reduced(Shape, [a], keepDim: false));
    }

    /// <summary>log Σ exp(x) over an axis, computed as m + log Σ exp(x − m) with m the (constant) maximum so it never overflows.</summary>
    public Tensor LogSumExp(int axis, bool keepDim = false)
    {
        var m = Max(axis, keepDim: true).Detach();
        var finite = Where(m.IsFinite(), m, ZerosLike(m)); // rows of −∞ stay −∞ instead of NaN
        var lse = (this - finite).Exp().Sum(axis, keepDim: true).Log() + finite;
        return keepDim ? lse : lse.Squeeze(axis);
    }

    /// <summary>Softmax along an axis: eˣⁱ/Σⱼ eˣʲ (002 eq 4.11), shifted by the maximum for stability.</summary>
    public Tensor Softmax(int axis)
    {
        var e = (this - Max(axis, keepDim: true).Detach()).Exp();
        return e / e.Sum(axis, keepDim: true);
    }

    /// <summary>log softmax along an axis: x − logsumexp(x), stable for any logits (one fused op: <see cref="Primitives.LogSoftmax"/>).</summary>
    public Tensor LogSoftmax(int axis)
    {
        int a = NormalizeAxis(axis, Rank, "LogSoftmax");
        return Primitives.LogSoftmax.Apply(DType.IsFloatingPoint() ? this : To(DType.Float32), a);
    }
}
