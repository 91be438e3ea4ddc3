namespace Nabla.Optim;

/// <summary>
/// The SGA step-size schedule of 001 §17.1.4: τ(ℓ) = τ₀ / (1 + √(ℓ/ℓ₀)). It decays like ℓ^(−1/2), slower than
/// <see cref="InverseDecayLr"/>; averaging the iterates (<see cref="Sga"/>) absorbs the extra noise.
/// </summary>
public sealed class InverseSqrtDecayLr : LrScheduler
{
    public InverseSqrtDecayLr(Optimizer optimizer, double l0) : base(optimizer)
    {
        if (!(l0 > 0) || double.IsInfinity(l0)) throw new ArgumentOutOfRangeException(nameof(l0), l0, "InverseSqrtDecayLr: ℓ₀ must be finite and positive");
        L0 = l0;
        ApplyLearningRate();
    }

    /// <summary>ℓ₀, the number of steps after which the rate has halved.</summary>
    public double L0 { get; }

    public override double LearningRateAt(int epoch) => BaseLearningRate / (1 + Math.Sqrt(epoch / L0));
}
