using Nabla.Kernels;
using Nabla.Primitives;

namespace Nabla;

public sealed partial class Tensor
{
    /// <summary>A scalar of this tensor's dtype (so <c>x * 2</c> keeps float32, as in PyTorch).</summary>
    private Tensor Lift(double value) => Scalar(value, DType.IsFloatingPoint() || value == Math.Floor(value) ? DType : DType.Float32, Device);

    public static Tensor operator +(Tensor a, Tensor b) => BinaryFunction.Apply(new Add(), a, b);
    public static Tensor operator +(Tensor a, double b) => a + a.Lift(b);
    public static Tensor operator +(double a, Tensor b) => b.Lift(a) + b;
    public static Tensor operator -(Tensor a, Tensor b) => BinaryFunction.Apply(new Sub(), a, b);
    public static Tensor operator -(Tensor a, double b) => a - a.Lift(b);
    public static Tensor operator -(double a, Tensor b) => b.Lift(a) - b;
    public static Tensor operator *(Tensor a, Tensor b) => BinaryFunction.Apply(new Mul(), a, b);
    public static Tensor operator *(Tensor a, double b) => a * a.Lift(b);
    public static Tensor operator *(double a, Tensor b) => b.Lift(a) * b;
    public static Tensor operator /(Tensor a, Tensor b) => BinaryFunction.Apply(new Div(), a, b);
    public static Tensor operator /(Tensor a, double b) => a / a.Lift(b);
    public static Tensor operator /(double a, Tensor b) => b.Lift(a) / b;
    public static Tensor operator -(Tensor a) => UnaryFunction.Apply(new Neg(), a);

    public Tensor Add(Tensor other) => this + other;
    public Tensor Sub(Tensor other) => this - other;
    public Tensor Mul(Tensor other) => this * other;
    public Tensor Div(Tensor other) => this / other;
    public Tensor Neg() => -this;

    /// <summary>Elementwise power xᵉ.</summary>
    public Tensor Pow(Tensor exponent) => BinaryFunction.Apply(new Primitives.Pow(), this, exponent);
    public Tensor Pow(double exponent) => exponent == 2 ? Square() : Pow(Lift(exponent));

    /// <summary>Elementwise maximum of two tensors (broadcast); NaN propagates.</summary>
    public Tensor Maximum(Tensor other) => BinaryFunction.Apply(new Primitives.Maximum(), this, other);
    public Tensor Minimum(Tensor other) => BinaryFunction.Apply(new Primitives.Minimum(), this, other);

    public Tensor Exp() => UnaryFunction.Apply(new Primitives.Exp(), this);
    public Tensor Log() => UnaryFunction.Apply(new Primitives.Log(), this);
    /// <summary>log(1 + x), accurate for small x.</summary>
    public Tensor Log1p() => UnaryFunction.Apply(new Primitives.Log1p(), this);
    public Tensor Sqrt() => UnaryFunction.Apply(new Primitives.Sqrt(), this);
    public Tensor Abs() => UnaryFunction.Apply(new Primitives.Abs(), this);
    public Tensor Sign() => UnaryFunction.Apply(new Primitives.Sign(), this);
    public Tensor Sin() => UnaryFunction.Apply(new Primitives.Sin(), this);
    public Tensor Cos() => UnaryFunction.Apply(new Primitives.Cos(), this);
    public Tensor Tanh() => UnaryFunction.Apply(new Primitives.Tanh(), this);
    /// <summary>σ(x) = 1/(1 + e⁻ˣ).</summary>
    public Tensor Sigmoid() => UnaryFunction.Apply(new Primitives.Sigmoid(), this);
    /// <summary>max(x, 0); its gradient at 0 is 0.</summary>
    public Tensor Relu() => UnaryFunction.Apply(new Primitives.Relu(), this);
    /// <summary>1 where x &gt; 0, else 0 (the Heaviside step; zero gradient).</summary>
    public Tensor Step() => UnaryFunction.Apply(new Primitives.Step(), this);
    public Tensor Floor() => UnaryFunction.Apply(new Primitives.Floor(), this);
    public Tensor Reciprocal() => UnaryFunction.Apply(new Primitives.Reciprocal(), this);
    public Tensor Square() => UnaryFunction.Apply(new Primitives.Square(), this);

    /// <summary>Clamps to [min, max]; the gradient passes where min ≤ x ≤ max, as in PyTorch.</summary>
    public Tensor Clamp(double? min = null, double? max = null)
    {
        var y = this;
        if (min is { } lo) y = Where(y.Lt(lo), Lift(lo), y);
        if (max is { } hi) y = Where(y.Gt(hi), Lift(hi), y);
        return y;
    }

    public Tensor Eq(Tensor other) => Comparison.Apply(BinaryOp.Eq, this, other);
    public Tensor Eq(double other) => Eq(Lift(other));
    public Tensor Ne(Tensor other) => Comparison.Apply(BinaryOp.Ne, this, other);
    public Tensor Ne(double other) => Ne(Lift(other));
    public Tensor Lt(Tensor other) => Comparison.Apply(BinaryOp.Lt, this, other);
    public Tensor Lt(double other) => Lt(Lift(other));
    public Tensor Le(Tensor other) => Comparison.Apply(BinaryOp.Le, this, other);
    public Tensor Le(double other) => Le(Lift(other));
    public Tensor Gt(Tensor other) => Comparison.Apply(BinaryOp.Gt, this, other);
    public Tensor Gt(double other) => Gt(Lift(other));
    public Tensor Ge(Tensor other) => Comparison.Apply(BinaryOp.Ge, this, other);
    public Tensor Ge(double other) => Ge(Lift(other));

    public static Tensor operator <(Tensor a, Tensor b) => a.Lt(b);
    public static Tensor operator >(Tensor a, Tensor b) => a.Gt(b);
    public static Tensor operator <=(Tensor a, Tensor b) => a.Le(b);
    public static Tensor operator >=(Tensor a, Tensor b) => a.Ge(b);
    public static Tensor operator <(Tensor a, double b) => a.Lt(b);
    public static Tensor operator >(Tensor a, double b) => a.Gt(b);
    public static Tensor operator <=(Tensor a, double b) => a.Le(b);
    public static Tensor operator >=(Tensor a, double b) => a.Ge(b);

    /// <summary>Elementwise selection: where <paramref name="condition"/> is true take a, else b (broadcast).</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b) => Primitives.Where.Apply(condition, a, b);

    /// <summary>Logical and of two boolean tensors.</summary>
    public Tensor LogicalAnd(Tensor other) => (To(DType.Bool).To(DType.Int64) * other.To(DType.Bool).To(DType.Int64)).To(DType.Bool);

    /// <summary>True where the value is finite (not NaN or infinite).</summary>
    public Tensor IsFinite() => DType.IsFloatingPoint() ? (this - this).Eq(0) : FullLike(this, 1).To(DType.Bool);
}
