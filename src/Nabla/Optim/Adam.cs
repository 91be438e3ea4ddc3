using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Optim;

/// <summary>
/// Adam (Kingma &amp; Ba), matching <c>torch.optim.Adam</c>. For each parameter p with gradient g, at its t-th update:
/// <code>
/// g ← g + λ·p                                  (L2 weight decay λ, when λ ≠ 0)
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// v̂ ← max(v̂, v)  if AMSGrad,  else  v̂ = v
/// p ← p − (τ / (1 − β₁ᵗ)) · m / (√v̂ / √(1 − β₂ᵗ) + ε)
/// </code>
/// State: <c>exp_avg</c> (m), <c>exp_avg_sq</c> (v) and, with AMSGrad, <c>max_exp_avg_sq</c> (v̂), all starting at 0.
/// </summary>
public sealed class Adam : Optimizer
{
    private readonly int _expAvg, _expAvgSq, _maxExpAvgSq = -1;

    public Adam(IEnumerable<(string Name, Tensor Value)> parameters, AdamOptions? options = null)
        : base(parameters, Validate(options ??= new AdamOptions()).LearningRate)
    {
        Options = options;
        _expAvg = AddState("exp_avg");
        _expAvgSq = AddState("exp_avg_sq");
        if (options.AmsGrad) _maxExpAvgSq = AddState("max_exp_avg_sq");
    }

    public AdamOptions Options { get; }

    internal static void CheckBetasAndEps(string kind, double beta1, double beta2, double eps, double weightDecay)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, $"{kind}: β₁ must be in [0, 1)");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, $"{kind}: β₂ must be in [0, 1)");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, $"{kind}: ε must be non-negative");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, $"{kind}: weight decay must be non-negative");
    }

    private static AdamOptions Validate(AdamOptions o)
    {
        CheckBetasAndEps("Adam", o.Beta1, o.Beta2, o.Eps, o.WeightDecay);
        return o;
    }

    public override void Step(Gradients grads)
    {
        ArgumentNullException.ThrowIfNull(grads);
        BeginStep();
        var o = Options;
        foreach (var p in States)
        {
            var g = GradientFor(grads, p);
            if (g is null) continue;
            if (p.Value.DType == DType.Float32)
                FusedLoop.Run(new AdamRule<float>(LearningRate, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, 1, o.AmsGrad, p.Step),
                    p.Span<float>(), g.AsSpan<float>(), p.Buffer<float>(_expAvg), p.Buffer<float>(_expAvgSq), p.Buffer<float>(_maxExpAvgSq), p.Threads);
            else
                FusedLoop.Run(new AdamRule<double>(LearningRate, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, 1, o.AmsGrad, p.Step),
                    p.Span<double>(), g.AsSpan<double>(), p.Buffer<double>(_expAvg), p.Buffer<double>(_expAvgSq), p.Buffer<double>(_maxExpAvgSq), p.Threads);
        }
    }
}
