namespace Nabla.Optim;

/// <summary>Hyperparameters of <see cref="Adam"/>; the defaults are PyTorch's (<c>torch.optim.Adam</c>).</summary>
/// <param name="LearningRate">Step size τ (lr).</param>
/// <param name="Beta1">Decay β₁ of the running mean of gradients.</param>
/// <param name="Beta2">Decay β₂ of the running mean of squared gradients.</param>
/// <param name="Eps">ε added to the denominator.</param>
/// <param name="WeightDecay">L2 penalty λ, added to the gradient as λ·p (coupled; see <see cref="AdamW"/> for decoupled).</param>
/// <param name="AmsGrad">Normalize by the running maximum of the second moment (AMSGrad).</param>
public sealed record AdamOptions(double LearningRate = 1e-3, double Beta1 = 0.9, double Beta2 = 0.999, double Eps = 1e-8, double WeightDecay = 0, bool AmsGrad = false);
