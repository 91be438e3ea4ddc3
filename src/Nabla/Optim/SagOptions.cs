namespace Nabla.Optim;

/// <summary>Hyperparameters of <see cref="Sag"/>.</summary>
/// <param name="LearningRate">Fixed step size τ, of the order of 1/L for an L-smooth loss (001 §17.1.5).</param>
/// <param name="SampleCount">Number n of samples (or fixed batches) the loss sums over: the rows of the gradient table.</param>
/// <param name="WeightDecay">L2 penalty λ, applied to the parameter directly (not stored in the table).</param>
/// <param name="NormalizeBySeen">Divide the gradient sum by the number of samples seen so far instead of n (Schmidt et al.'s
/// variant for the first pass, when unseen rows are still zero).</param>
public sealed record SagOptions(double LearningRate, int SampleCount, double WeightDecay = 0, bool NormalizeBySeen = false);
