using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Primitives;

/// <summary>y = Σ x over axes. x̄ = ȳ broadcast back over the summed axes; ẏ = Σ ẋ.</summary>
internal sealed class Sum(int[] axes, bool keepDim) : Function
{
    public override string Name => "Sum";

    public static Tensor Apply(Tensor x, int[] axes, bool keepDim)
    {
        if (x.DType == DType.Bool) x = x.To(DType.Int64); // counting trues, as PyTorch does
        var y = Tensor.Uninitialized(Shapes.Reduced(x.Shape, axes, keepDim: true), x.DType, x.Device);
        x.Device.Backend.Reduce(ReduceOp.Sum, x.View, axes, y.View);
        var result = keepDim ? y : Detached(y, Shapes.Reduced(x.Shape, axes, keepDim: false));
        return Record(result, () => new Sum(axes, keepDim), x);
    }

    /// <summary>A reshape that is not recorded: the kernel output is fresh, so no history is lost.</summary>
    internal static Tensor Detached(Tensor y, int[] shape) => new(y.Storage, Layout.Contiguous(shape), y.Device);

    internal override Tensor?[] Vjp(Tensor y, Tensor dy)
    {
        var shape = Inputs[0].Shape;
        return [dy.Reshape(Shapes.Reduced(shape, axes, keepDim: true)).Expand(shape)];
    }

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => dx[0]!.Sum(axes, keepDim);
}

/// <summary>
/// y = max (or min) of x over axes. The gradient is shared evenly among the elements that attain the extremum
/// (PyTorch's amax/amin convention), so ties are symmetric.
/// </summary>
internal sealed class Extreme(ReduceOp op, int[] axes, bool keepDim) : Function
{
    public override string Name => op == ReduceOp.Max ? "Amax" : "Amin";

    public static Tensor Apply(Tensor x, ReduceOp op, int[] axes, bool keepDim)
    {
        foreach (int a in axes)
            if (x.Shape[a] == 0) throw new ArgumentException($"{(op == ReduceOp.Max ? "Max" : "Min")}: cannot reduce over dimension {a} of size 0");
        var y = Tensor.Uninitialized(Shapes.Reduced(x.Shape, axes, keepDim: true), x.DType, x.Device);
        x.Device.Backend.Reduce(op, x.View, axes, y.View);
        var result = keepDim ? y : Sum.Detached(y, Shapes.Reduced(x.Shape, axes, keepDim: false));
        return Record(result, () => new Extreme(op, axes, keepDim), x);
    }

    /// <summary>1/k on the k elements equal to the extremum, 0 elsewhere.</summary>
    private Tensor Share(Tensor x, Tensor y)
    {
        var yk = y.Reshape(Shapes.Reduced(x.Shape, axes, keepDim: true));
        var mask = x.Eq(yk).To(x.DType);
        return mask / mask.Sum(axes, keepDim: true);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy)
    {
        var x = Inputs[0];
        var dyk = dy.Reshape(Shapes.Reduced(x.Shape, axes, keepDim: true));
        return [dyk * Share(x.Detach(), y.Detach())];
    }

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => (dx[0]! * Share(x[0], y)).Sum(axes, keepDim);
}
