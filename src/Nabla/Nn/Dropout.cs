using Nabla.Autodiff;

namespace Nabla.Nn;

/// <summary>
/// In training, zeroes each element with probability p and scales the rest by 1/(1 − p), drawing from the mode's
/// generator; in evaluation, the identity. Shapes: any → same.
/// </summary>
public sealed class Dropout : Module
{
    public Dropout(double p = 0.5)
    {
        if (p < 0 || p >= 1) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout: probability must be in [0, 1)");
        P = p;
    }

    public double P { get; }

    public override Tensor Forward(Tensor x, Mode mode)
    {
        if (!mode.Training || P == 0) return x;
        var rng = mode.Random ?? throw new ArgumentException("Dropout: training mode needs a generator (Mode.Train(generator))");
        Tensor keep;
        using (Autograd.NoGrad()) keep = Tensor.Rand(x.Shape, rng, x.DType, x.Device).Ge(P).To(x.DType) / (1 - P);
        return x * keep;
    }

    public override string ToString() => $"Dropout(p={P})";
}
