namespace Nabla.Optim;

/// <summary>Hyperparameters of <see cref="Sga"/>.</summary>
/// <param name="LearningRate">Step size τ of the underlying gradient steps (pair with <see cref="InverseSqrtDecayLr"/>, 001 §17.1.4).</param>
/// <param name="WeightDecay">L2 penalty λ, added to the gradient as λ·p.</param>
/// <param name="AverageFrom">Index ℓₐ of the first iterate in the average (0: average from the starting point; larger values skip a burn-in).</param>
public sealed record SgaOptions(double LearningRate, double WeightDecay = 0, long AverageFrom = 0);
