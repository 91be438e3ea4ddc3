namespace Nabla.Optim;

/// <summary>
/// Cosine annealing (Loshchilov &amp; Hutter, without restarts), the closed form of
/// <c>torch.optim.lr_scheduler.CosineAnnealingLR</c>:
/// τ(e) = η_min + (τ₀ − η_min)·(1 + cos(π·e / T_max))/2, falling from τ₀ at e = 0 to η_min at e = T_max (and, as in
/// PyTorch, rising again after, with period 2·T_max).
/// </summary>
public sealed class CosineAnnealingLr : LrScheduler
{
    public CosineAnnealingLr(Optimizer optimizer, int tMax, double etaMin = 0) : base(optimizer)
    {
        if (tMax <= 0) throw new ArgumentOutOfRangeException(nameof(tMax), tMax, "CosineAnnealingLr: T_max must be positive");
        if (!(etaMin >= 0) || double.IsInfinity(etaMin)) throw new ArgumentOutOfRangeException(nameof(etaMin), etaMin, "CosineAnnealingLr: η_min must be finite and non-negative");
        TMax = tMax;
        EtaMin = etaMin;
        ApplyLearningRate();
    }

    public int TMax { get; }

    public double EtaMin { get; }

    public override double LearningRateAt(int epoch) =>
        EtaMin + (BaseLearningRate - EtaMin) * (1 + Math.Cos(Math.PI * epoch / TMax)) / 2;
}
