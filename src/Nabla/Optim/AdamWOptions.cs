namespace Nabla.Optim;

/// <summary>Hyperparameters of <see cref="AdamW"/>; the defaults are PyTorch's (<c>torch.optim.AdamW</c>, weight decay 0.01).</summary>
/// <param name="LearningRate">Step size τ (lr).</param>
/// <param name="Beta1">Decay β₁ of the running mean of gradients.</param>
/// <param name="Beta2">Decay β₂ of the running mean of squared gradients.</param>
/// <param name="Eps">ε added to the denominator.</param>
/// <param name="WeightDecay">Decoupled weight decay λ: p shrinks by the factor 1 − τ·λ each step.</param>
/// <param name="AmsGrad">Normalize by the running maximum of the second moment (AMSGrad).</param>
public sealed record AdamWOptions(double LearningRate = 1e-3, double Beta1 = 0.9, double Beta2 = 0.999, double Eps = 1e-8, double WeightDecay = 1e-2, bool AmsGrad = false);
