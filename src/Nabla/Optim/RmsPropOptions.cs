namespace Nabla.Optim;

/// <summary>Hyperparameters of <see cref="RmsProp"/>; the defaults are PyTorch's (<c>torch.optim.RMSprop</c>).</summary>
/// <param name="LearningRate">Step size τ (lr).</param>
/// <param name="Alpha">Smoothing constant α of the running means.</param>
/// <param name="Eps">ε added to the denominator.</param>
/// <param name="WeightDecay">L2 penalty λ, added to the gradient as λ·p.</param>
/// <param name="Momentum">Momentum factor μ; 0 disables momentum.</param>
/// <param name="Centered">Normalize by an estimate of the gradient's variance rather than its second moment.</param>
public sealed record RmsPropOptions(double LearningRate = 1e-2, double Alpha = 0.99, double Eps = 1e-8, double WeightDecay = 0, double Momentum = 0, bool Centered = false);
