using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Primitives;

/// <summary>
/// An elementwise primitive of two broadcast operands. Gradients of broadcast operands are summed back to their
/// shapes (<see cref="Tensor.SumTo"/>); tangents of broadcast operands broadcast forward on their own.
/// </summary>
internal abstract class BinaryFunction : Function
{
    public abstract BinaryOp Op { get; }

    /// <summary>
    /// y = f(a, b), recorded with <paramref name="f"/> as its node. The node is made by the caller (<c>Apply(new Add(), a, b)</c>)
    /// because it also names the kernel: reading that from a type parameter costs a reflective construction per call
    /// (<c>new TF()</c> on a shared generic), ≈ 11 % of a 4-element add's samples in a profile on Zen 3.
    /// </summary>
    public static Tensor Apply(BinaryFunction f, Tensor a, Tensor b)
    {
        var op = f.Op;
        a.CheckSameDevice(b, f.Name);
        var dtype = DTypeExtensions.Promote(a.DType, b.DType);
        if (op is BinaryOp.Div or BinaryOp.Pow && !dtype.IsFloatingPoint()) dtype = DType.Float32; // true division, as in PyTorch
        if (a.DType != dtype) a = a.To(dtype);
        if (b.DType != dtype) b = b.To(dtype);
        var shape = Shapes.Broadcast(a.Shape, b.Shape, f.Name);
        var y = Tensor.Uninitialized(Layout.Contiguous(shape, ReferenceEquals(shape, b.Shape) ? b.Layout : a.Layout), dtype, a.Device);
        a.Device.Backend.Binary(op, a.BroadcastView(shape), b.BroadcastView(shape), y.View);
        return Record(y, f, a, b);
    }

    /// <summary>ẏ from the two partial products; null tangents contribute nothing.</summary>
    protected static Tensor Combine(Tensor y, Tensor? ta, Tensor? tb)
    {
        var t = ta is null ? tb! : tb is null ? ta : ta + tb;
        return Shapes.Equal(t.Shape, y.Shape) ? t : t.Expand(y.Shape);
    }

    protected Tensor?[] Reduce(Tensor? da, Tensor? db) =>
        [da?.SumTo(Inputs[0].Shape), db?.SumTo(Inputs[1].Shape)];
}

internal sealed class Add : BinaryFunction
{
    public override string Name => "Add";
    public override BinaryOp Op => BinaryOp.Add;
    internal override Tensor?[] Vjp(Tensor y, Tensor dy) => Reduce(dy, dy);
    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => Combine(y, dx[0], dx[1]);
}

internal sealed class Sub : BinaryFunction
{
    public override string Name => "Sub";
    public override BinaryOp Op => BinaryOp.Sub;
    internal override Tensor?[] Vjp(Tensor y, Tensor dy) => Reduce(dy, Inputs[1].RequiresGrad ? -dy : null);
    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => Combine(y, dx[0], dx[1] is { } d ? -d : null);
}

internal sealed class Mul : BinaryFunction
{
    public override string Name => "Mul";
    public override BinaryOp Op => BinaryOp.Mul;

    // y = a·b ⇒ ā = ȳ·b, b̄ = ȳ·a
    internal override Tensor?[] Vjp(Tensor y, Tensor dy) =>
        Reduce(Inputs[0].RequiresGrad ? dy * Inputs[1] : null, Inputs[1].RequiresGrad ? dy * Inputs[0] : null);

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) =>
        Combine(y, dx[0] is { } da ? da * x[1] : null, dx[1] is { } db ? x[0] * db : null);
}

internal sealed class Div : BinaryFunction
{
    public override string Name => "Div";
    public override BinaryOp Op => BinaryOp.Div;

    // y = a/b ⇒ ā = ȳ/b, b̄ = −ȳ·a/b²
    internal override Tensor?[] Vjp(Tensor y, Tensor dy) =>
        Reduce(Inputs[0].RequiresGrad ? dy / Inputs[1] : null, Inputs[1].RequiresGrad ? -dy * Inputs[0] / Inputs[1].Square() : null);

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) =>
        Combine(y, dx[0] is { } da ? da / x[1] : null, dx[1] is { } db ? -db * x[0] / x[1].Square() : null);
}

internal sealed class Pow : BinaryFunction
{
    public override string Name => "Pow";
    public override BinaryOp Op => BinaryOp.Pow;

    // y = aᵇ ⇒ ∂y/∂a = b·aᵇ⁻¹ (taken as 0 where b = 0, as PyTorch does, so a⁰ at a = 0 gives 0 rather than 0·∞ = NaN),
    // ∂y/∂b = aᵇ·log a (taken as 0 where a = 0, as PyTorch does, so 0ᵇ stays differentiable in a)
    private static Tensor DyDa(Tensor a, Tensor b) => Tensor.Where(b.Eq(0), Tensor.Scalar(0, a.DType), b * a.Pow(b - 1));

    private static Tensor DyDb(Tensor a, Tensor b) => Tensor.Where(a.Eq(0), Tensor.Scalar(0, a.DType), a.Pow(b) * a.Log());

    internal override Tensor?[] Vjp(Tensor y, Tensor dy) =>
        Reduce(Inputs[0].RequiresGrad ? dy * DyDa(Inputs[0], Inputs[1]) : null, Inputs[1].RequiresGrad ? dy * DyDb(Inputs[0], Inputs[1]) : null);

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) =>
        Combine(y, dx[0] is { } da ? da * DyDa(x[0], x[1]) : null, dx[1] is { } db ? db * DyDb(x[0], x[1]) : null);
}

/// <summary>Elementwise max/min. Where the operands tie, each receives half the gradient, as in PyTorch.</summary>
internal abstract class Extremum : BinaryFunction
{
    /// <summary>Weight of the first operand in the derivative: 1 where it wins, ½ on ties, 0 where it loses.</summary>
    private Tensor WeightA(Tensor a, Tensor b)
    {
        var wins = Op == BinaryOp.Maximum ? a.Gt(b) : a.Lt(b);
        return wins.To(a.DType) + 0.5 * a.Eq(b).To(a.DType);
    }

    internal override Tensor?[] Vjp(Tensor y, Tensor dy)
    {
        var w = WeightA(Inputs[0], Inputs[1]);
        return Reduce(Inputs[0].RequiresGrad ? dy * w : null, Inputs[1].RequiresGrad ? dy * (1 - w) : null);
    }

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx)
    {
        var w = WeightA(x[0], x[1]);
        return Combine(y, dx[0] is { } da ? da * w : null, dx[1] is { } db ? db * (1 - w) : null);
    }
}

internal sealed class Maximum : Extremum
{
    public override string Name => "Maximum";
    public override BinaryOp Op => BinaryOp.Maximum;
}

internal sealed class Minimum : Extremum
{
    public override string Name => "Minimum";
    public override BinaryOp Op => BinaryOp.Minimum;
}

/// <summary>
/// y = a where b &gt; 0, else 0: a·step(b) in one pass (ReLU's VJP). ā = ȳ where b &gt; 0; b̄ = 0, since step is piecewise
/// constant (its derivative at 0 is taken as 0, PyTorch's convention).
/// </summary>
internal sealed class MaskPositive : BinaryFunction
{
    public override string Name => "MaskPositive";
    public override BinaryOp Op => BinaryOp.MaskPositive;

    internal override Tensor?[] Vjp(Tensor y, Tensor dy) =>
        Reduce(Inputs[0].RequiresGrad ? Apply(new MaskPositive(), dy, Inputs[1]) : null, null);

    /// <summary>
    /// ȳ·step(<paramref name="b"/>) for a ReLU's VJP given a spent ȳ (<see cref="Function.VjpConsuming"/>): written into
    /// ȳ itself when it is dense, of b's shape and dtype and nothing records (no graph is being built), else a fresh
    /// tensor: the gradient the previous product just wrote is still in cache, a pooled buffer for a fresh one may not be.
    /// Zen 3, in-process A/B against the fresh buffer, medians of three runs: the MLP's training step (batch 64)
    /// 496–500 → 492–496 µs; LeNet's (batch 64, its ReLU a node of its own) 26.5–28.2 → 25.5–27.1 ms, two runs.
    /// </summary>
    internal static Tensor IntoSpent(Tensor dy, Tensor b)
    {
        if (GradMode.IsEnabled || dy.Tangent is not null || !dy.IsContiguous || dy.DType != b.DType || !Shapes.Equal(dy.Shape, b.Shape))
            return Apply(new MaskPositive(), dy, b);
        dy.Device.Backend.Binary(BinaryOp.MaskPositive, dy.View, b.View, dy.View);
        return dy;
    }

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) =>
        Combine(y, dx[0] is { } da ? Apply(new MaskPositive(), da, x[1]) : null, dx[1] is null ? null : Tensor.ZerosLike(y));
}

/// <summary>Comparisons: not differentiable, never recorded; they produce Bool tensors.</summary>
internal static class Comparison
{
    public static Tensor Apply(BinaryOp op, Tensor a, Tensor b)
    {
        var name = op.ToString();
        a.CheckSameDevice(b, name);
        var dtype = DTypeExtensions.Promote(a.DType, b.DType);
        if (a.DType != dtype) a = a.To(dtype);
        if (b.DType != dtype) b = b.To(dtype);
        var shape = Shapes.Broadcast(a.Shape, b.Shape, name);
        var y = Tensor.Uninitialized(shape, DType.Bool, a.Device);
        a.Device.Backend.Binary(op, a.BroadcastView(shape), b.BroadcastView(shape), y.View);
        return y;
    }
}
