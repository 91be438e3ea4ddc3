namespace Nabla.Nn;

/// <summary>max(x, 0) elementwise (002 eq 4.2); gradient 0 at 0. Shapes: any → same.</summary>
public sealed class ReLU : Module
{
    public override Tensor Forward(Tensor x, Mode mode) => x.Relu();
}

/// <summary>x for x &gt; 0, slope·x otherwise (002 ch. 9 Ex 8 uses slope 0.5). Shapes: any → same.</summary>
public sealed class LeakyReLU(double negativeSlope = 0.01) : Module
{
    public double NegativeSlope { get; } = negativeSlope;

    // slope·x + (1 − slope)·relu(x): one differentiable expression with gradient `slope` at 0, as PyTorch.
    public override Tensor Forward(Tensor x, Mode mode) => NegativeSlope * x + (1 - NegativeSlope) * x.Relu();

    public override string ToString() => $"LeakyReLU(negative_slope={NegativeSlope})";
}

/// <summary>σ(x) = 1/(1 + e⁻ˣ). Shapes: any → same.</summary>
public sealed class Sigmoid : Module
{
    public override Tensor Forward(Tensor x, Mode mode) => x.Sigmoid();
}

/// <summary>tanh(x). Shapes: any → same.</summary>
public sealed class Tanh : Module
{
    public override Tensor Forward(Tensor x, Mode mode) => x.Tanh();
}

/// <summary>
/// ln(1 + eˣ) (what 003 calls "Softmax", erratum E-8), computed as max(x, 0) + log1p(e^−|x|) so it never overflows.
/// Shapes: any → same.
/// </summary>
public sealed class Softplus : Module
{
    public override Tensor Forward(Tensor x, Mode mode) => Functional.Softplus(x);
}

/// <summary>|x| elementwise (002 ch. 9 Ex 7). Shapes: any → same.</summary>
public sealed class Abs : Module
{
    public override Tensor Forward(Tensor x, Mode mode) => x.Abs();
}

/// <summary>The identity map. Shapes: any → same.</summary>
public sealed class Identity : Module
{
    public override Tensor Forward(Tensor x, Mode mode) => x;
}

/// <summary>Softmax along <paramref name="dim"/> (002 eq 4.11). Shapes: any → same.</summary>
public sealed class Softmax(int dim = -1) : Module
{
    public override Tensor Forward(Tensor x, Mode mode) => x.Softmax(dim);
}

/// <summary>log softmax along <paramref name="dim"/>. Shapes: any → same.</summary>
public sealed class LogSoftmax(int dim = -1) : Module
{
    public override Tensor Forward(Tensor x, Mode mode) => x.LogSoftmax(dim);
}

/// <summary>Elementwise functions that several modules and losses share.</summary>
public static class Functional
{
    /// <summary>ln(1 + eˣ) = max(x, 0) + log1p(e^−|x|); Maximum's tie at x = 0 passes half the gradient, so softplus′(0) = σ(0) = ½ as PyTorch (Relu would give 0).</summary>
    public static Tensor Softplus(Tensor x) => x.Maximum(Tensor.Scalar(0, x.DType, x.Device)) + (-x.Abs()).Exp().Log1p();
}
