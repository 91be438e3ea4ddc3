namespace Nabla.Optim;

/// <summary>Exponential decay, matching <c>torch.optim.lr_scheduler.ExponentialLR</c>: τ(e) = τ₀·γᵉ.</summary>
public sealed class ExponentialLr : LrScheduler
{
    public ExponentialLr(Optimizer optimizer, double gamma) : base(optimizer)
    {
        if (!(gamma >= 0) || double.IsInfinity(gamma)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "ExponentialLr: γ must be finite and non-negative");
        Gamma = gamma;
        ApplyLearningRate();
    }

    public double Gamma { get; }

    public override double LearningRateAt(int epoch) => BaseLearningRate * Math.Pow(Gamma, epoch);
}
