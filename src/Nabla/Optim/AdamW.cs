using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Optim;

/// <summary>
/// Adam with decoupled weight decay (Loshchilov &amp; Hutter), matching <c>torch.optim.AdamW</c>. For each parameter
/// p with gradient g, at its t-th update:
/// <code>
/// p ← p·(1 − τ·λ)                               (decoupled weight decay λ, default 0.01)
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// v̂ ← max(v̂, v)  if AMSGrad,  else  v̂ = v
/// p ← p − (τ / (1 − β₁ᵗ)) · m / (√v̂ / √(1 − β₂ᵗ) + ε)
/// </code>
/// Unlike <see cref="Adam"/>'s L2 term, the decay does not pass through m and v. State: <c>exp_avg</c>,
/// <c>exp_avg_sq</c> and, with AMSGrad, <c>max_exp_avg_sq</c>.
/// </summary>
public sealed class AdamW : Optimizer
{
    private readonly int _expAvg, _expAvgSq, _maxExpAvgSq = -1;

    public AdamW(IEnumerable<(string Name, Tensor Value)> parameters, AdamWOptions? options = null)
        : base(parameters, Validate(options ??= new AdamWOptions()).LearningRate)
    {
        Options = options;
        _expAvg = AddState("exp_avg");
        _expAvgSq = AddState("exp_avg_sq");
        if (options.AmsGrad) _maxExpAvgSq = AddState("max_exp_avg_sq");
    }

    public AdamWOptions Options { get; }

    private static AdamWOptions Validate(AdamWOptions o)
    {
        Adam.CheckBetasAndEps("AdamW", o.Beta1, o.Beta2, o.Eps, o.WeightDecay);
        return o;
    }

    public override void Step(Gradients grads)
    {
        ArgumentNullException.ThrowIfNull(grads);
        BeginStep();
        var o = Options;
        double shrink = 1 - LearningRate * o.WeightDecay;
        foreach (var p in States)
        {
            var g = GradientFor(grads, p);
            if (g is null) continue;
            if (p.Value.DType == DType.Float32)
                FusedLoop.Run(new AdamRule<float>(LearningRate, o.Beta1, o.Beta2, o.Eps, 0, shrink, o.AmsGrad, p.Step),
                    p.Span<float>(), g.AsSpan<float>(), p.Buffer<float>(_expAvg), p.Buffer<float>(_expAvgSq), p.Buffer<float>(_maxExpAvgSq), p.Threads);
            else
                FusedLoop.Run(new AdamRule<double>(LearningRate, o.Beta1, o.Beta2, o.Eps, 0, shrink, o.AmsGrad, p.Step),
                    p.Span<double>(), g.AsSpan<double>(), p.Buffer<double>(_expAvg), p.Buffer<double>(_expAvgSq), p.Buffer<double>(_maxExpAvgSq), p.Threads);
        }
    }
}
