using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Primitives;

/// <summary>
/// An elementwise primitive y = f(x). It states only f′; the rules follow: x̄ = ȳ·f′(x) and ẏ = f′(x)·ẋ.
/// f′ is written with differentiable ops, so second derivatives work too.
/// </summary>
internal abstract class UnaryFunction : Function
{
    public abstract UnaryOp Op { get; }

    /// <summary>f′(x); <paramref name="y"/> = f(x) is given because many derivatives are cheapest in terms of it.</summary>
    public abstract Tensor Derivative(Tensor x, Tensor y);

    internal override Tensor?[] Vjp(Tensor y, Tensor dy) => [dy * Derivative(Inputs[0], y)];

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => dx[0]! * Derivative(x[0], y);

    /// <summary>y = f(x), recorded with <paramref name="f"/> as its node (made by the caller, for the reason given at <see cref="BinaryFunction.Apply"/>).</summary>
    public static Tensor Apply(UnaryFunction f, Tensor x)
    {
        var op = f.Op;
        if (!x.DType.IsFloatingPoint() && op is not (UnaryOp.Neg or UnaryOp.Abs or UnaryOp.Sign or UnaryOp.Square or UnaryOp.Relu or UnaryOp.Step))
            x = x.To(DType.Float32); // like PyTorch: transcendental functions of integers are floats
        var y = x.UninitializedLike();
        x.Device.Backend.Unary(op, x.View, y.View);
        return Record(y, f, x);
    }
}

internal sealed class Neg : UnaryFunction
{
    public override string Name => "Neg";
    public override UnaryOp Op => UnaryOp.Neg;
    internal override Tensor?[] Vjp(Tensor y, Tensor dy) => [-dy];
    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => -dx[0]!;
    public override Tensor Derivative(Tensor x, Tensor y) => Tensor.FullLike(x, -1);
}

internal sealed class Exp : UnaryFunction
{
    public override string Name => "Exp";
    public override UnaryOp Op => UnaryOp.Exp;
    public override Tensor Derivative(Tensor x, Tensor y) => y; // (eˣ)′ = eˣ
}

internal sealed class Log : UnaryFunction
{
    public override string Name => "Log";
    public override UnaryOp Op => UnaryOp.Log;
    public override Tensor Derivative(Tensor x, Tensor y) => x.Reciprocal(); // (log x)′ = 1/x
}

internal sealed class Log1p : UnaryFunction
{
    public override string Name => "Log1p";
    public override UnaryOp Op => UnaryOp.Log1p;
    public override Tensor Derivative(Tensor x, Tensor y) => (x + 1).Reciprocal(); // 1/(1+x)
}

internal sealed class Sqrt : UnaryFunction
{
    public override string Name => "Sqrt";
    public override UnaryOp Op => UnaryOp.Sqrt;
    public override Tensor Derivative(Tensor x, Tensor y) => 0.5 / y; // (√x)′ = 1/(2√x): infinite at 0, as in PyTorch
}

internal sealed class Abs : UnaryFunction
{
    public override string Name => "Abs";
    public override UnaryOp Op => UnaryOp.Abs;
    public override Tensor Derivative(Tensor x, Tensor y) => x.Sign(); // sign(x); 0 at the kink, PyTorch's convention
}

internal sealed class Sign : UnaryFunction
{
    public override string Name => "Sign";
    public override UnaryOp Op => UnaryOp.Sign;
    public override Tensor Derivative(Tensor x, Tensor y) => Tensor.ZerosLike(x); // piecewise constant
}

internal sealed class Sin : UnaryFunction
{
    public override string Name => "Sin";
    public override UnaryOp Op => UnaryOp.Sin;
    public override Tensor Derivative(Tensor x, Tensor y) => x.Cos();
}

internal sealed class Cos : UnaryFunction
{
    public override string Name => "Cos";
    public override UnaryOp Op => UnaryOp.Cos;
    public override Tensor Derivative(Tensor x, Tensor y) => -x.Sin();
}

internal sealed class Tanh : UnaryFunction
{
    public override string Name => "Tanh";
    public override UnaryOp Op => UnaryOp.Tanh;
    public override Tensor Derivative(Tensor x, Tensor y) => 1 - y.Square(); // 1 − tanh²
}

internal sealed class Sigmoid : UnaryFunction
{
    public override string Name => "Sigmoid";
    public override UnaryOp Op => UnaryOp.Sigmoid;
    public override Tensor Derivative(Tensor x, Tensor y) => y * (1 - y); // σ′ = σ(1 − σ)
}

internal sealed class Relu : UnaryFunction
{
    public override string Name => "Relu";
    public override UnaryOp Op => UnaryOp.Relu;
    // 1 for x > 0 and 0 for x ≤ 0: at the kink the gradient is 0, PyTorch's convention and 002 eq (9.73).
    public override Tensor Derivative(Tensor x, Tensor y) => x.Step();

    // ȳ·step(x) in one pass, without materializing step(x).
    internal override Tensor?[] Vjp(Tensor y, Tensor dy) => [BinaryFunction.Apply(new MaskPositive(), dy, Inputs[0])];

    internal override Tensor?[] VjpConsuming(Tensor y, Tensor dy) => [MaskPositive.IntoSpent(dy, Inputs[0])];

    internal override Tensor Jvp(Tensor[] x, Tensor y, Tensor?[] dx) => BinaryFunction.Apply(new MaskPositive(), dx[0]!, x[0]);
}

internal sealed class Step : UnaryFunction
{
    public override string Name => "Step";
    public override UnaryOp Op => UnaryOp.Step;
    public override Tensor Derivative(Tensor x, Tensor y) => Tensor.ZerosLike(x);
}

internal sealed class Floor : UnaryFunction
{
    public override string Name => "Floor";
    public override UnaryOp Op => UnaryOp.Floor;
    public override Tensor Derivative(Tensor x, Tensor y) => Tensor.ZerosLike(x);
}

internal sealed class Reciprocal : UnaryFunction
{
    public override string Name => "Reciprocal";
    public override UnaryOp Op => UnaryOp.Reciprocal;
    public override Tensor Derivative(Tensor x, Tensor y) => -y.Square(); // (1/x)′ = −1/x²
}

internal sealed class Square : UnaryFunction
{
    public override string Name => "Square";
    public override UnaryOp Op => UnaryOp.Square;
    public override Tensor Derivative(Tensor x, Tensor y) => 2 * x;
}
