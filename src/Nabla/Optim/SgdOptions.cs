namespace Nabla.Optim;

/// <summary>Hyperparameters of <see cref="Sgd"/>; the defaults are PyTorch's (<c>torch.optim.SGD</c>).</summary>
/// <param name="LearningRate">Step size τ (lr).</param>
/// <param name="Momentum">Momentum factor μ; 0 disables momentum.</param>
/// <param name="Dampening">Dampening d of the gradient entering the momentum buffer.</param>
/// <param name="WeightDecay">L2 penalty λ, added to the gradient as λ·p.</param>
/// <param name="Nesterov">Nesterov momentum (needs μ &gt; 0 and d = 0).</param>
public sealed record SgdOptions(double LearningRate, double Momentum = 0, double Dampening = 0, double WeightDecay = 0, bool Nesterov = false);
