namespace Nabla.Optim;

/// <summary>
/// The SGD step-size schedule of 001 §17.1.3 (eq. 17.8): τ(ℓ) = τ₀ / (1 + ℓ/ℓ₀). It decays like 1/ℓ, fast enough to
/// cancel the sampling noise and slow enough to keep converging; ℓ₀ is roughly the length of the warm-up phase.
/// </summary>
public sealed class InverseDecayLr : LrScheduler
{
    public InverseDecayLr(Optimizer optimizer, double l0) : base(optimizer)
    {
        if (!(l0 > 0) || double.IsInfinity(l0)) throw new ArgumentOutOfRangeException(nameof(l0), l0, "InverseDecayLr: ℓ₀ must be finite and positive");
        L0 = l0;
        ApplyLearningRate();
    }

    /// <summary>ℓ₀, the number of steps after which the rate has halved.</summary>
    public double L0 { get; }

    public override double LearningRateAt(int epoch) => BaseLearningRate / (1 + epoch / L0);
}
