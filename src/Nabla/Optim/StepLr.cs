namespace Nabla.Optim;

/// <summary>
/// Step decay, matching <c>torch.optim.lr_scheduler.StepLR</c>: τ(e) = τ₀·γ^⌊e / stepSize⌋, the rate multiplied by
/// γ every <c>stepSize</c> steps.
/// </summary>
public sealed class StepLr : LrScheduler
{
    public StepLr(Optimizer optimizer, int stepSize, double gamma = 0.1) : base(optimizer)
    {
        if (stepSize <= 0) throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, "StepLr: step size must be positive");
        if (!(gamma >= 0) || double.IsInfinity(gamma)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "StepLr: γ must be finite and non-negative");
        StepSize = stepSize;
        Gamma = gamma;
        ApplyLearningRate();
    }

    public int StepSize { get; }

    public double Gamma { get; }

    public override double LearningRateAt(int epoch) => BaseLearningRate * Math.Pow(Gamma, epoch / StepSize);
}
