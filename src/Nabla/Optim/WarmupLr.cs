namespace Nabla.Optim;

/// <summary>
/// Linear warm-up, then an optional schedule. With W warm-up steps, start factor f₀ and the schedule τ_then:
/// <code>
/// τ(e) = τ₀·(f₀ + (1 − f₀)·e/W)     for e &lt; W
/// τ(e) = τ_then(e − W)              for e ≥ W   (τ₀ when there is no schedule after)
/// </code>
/// Without a schedule after it this is <c>torch.optim.lr_scheduler.LinearLR(start_factor=f₀, end_factor=1,
/// total_iters=W)</c>. The schedule after it must drive the same optimizer; it is evaluated by its closed form at
/// e − W (its own <see cref="LrScheduler.Step"/> is never called), and it shares the warm-up's τ₀.
/// </summary>
public sealed class WarmupLr : LrScheduler
{
    public WarmupLr(Optimizer optimizer, int warmupSteps, double startFactor = 0, LrScheduler? then = null)
        : base(optimizer, then?.BaseLearningRate)
    {
        if (warmupSteps <= 0) throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, "WarmupLr: the number of warm-up steps must be positive");
        if (!(startFactor >= 0 && startFactor <= 1)) throw new ArgumentOutOfRangeException(nameof(startFactor), startFactor, "WarmupLr: the start factor must be in [0, 1]");
        if (then is not null && !ReferenceEquals(then.Optimizer, optimizer))
            throw new ArgumentException("WarmupLr: the schedule after the warm-up drives a different optimizer", nameof(then));
        WarmupSteps = warmupSteps;
        StartFactor = startFactor;
        Then = then;
        ApplyLearningRate();
    }

    public int WarmupSteps { get; }

    public double StartFactor { get; }

    /// <summary>The schedule after the warm-up, or null for a constant τ₀.</summary>
    public LrScheduler? Then { get; }

    public override double LearningRateAt(int epoch) =>
        epoch < WarmupSteps ? BaseLearningRate * (StartFactor + (1 - StartFactor) * epoch / WarmupSteps)
        : Then?.LearningRateAt(epoch - WarmupSteps) ?? BaseLearningRate;

    private protected override void AfterStateLoaded()
    {
        if (Then is not null) Then.BaseLearningRate = BaseLearningRate;
    }
}
