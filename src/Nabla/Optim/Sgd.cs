using System.Numerics;
using System.Runtime.CompilerServices;
using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Optim;

/// <summary>
/// Gradient descent (001 §17.1.2–17.1.3): batch gradient descent when the gradient is that of the full loss,
/// stochastic or mini-batch gradient descent when it is that of one sample or batch. Matches
/// <c>torch.optim.SGD</c>. For each parameter p with gradient g, at its t-th update:
/// <code>
/// g ← g + λ·p                                   (weight decay λ, when λ ≠ 0)
/// v ← g  if t = 1,  else  v ← μ·v + (1 − d)·g    (momentum μ, dampening d, when μ ≠ 0)
/// g ← g + μ·v  if Nesterov,  else  g ← v         (when μ ≠ 0)
/// p ← p − τ·g
/// </code>
/// With μ = 0 and λ = 0 this is plain p ← p − τ·g. State: <c>momentum_buffer</c> (v) when μ ≠ 0.
/// </summary>
public sealed class Sgd : Optimizer
{
    private readonly int _momentumBuffer = -1;

    public Sgd(IEnumerable<(string Name, Tensor Value)> parameters, SgdOptions options)
        : base(parameters, Validate(options).LearningRate)
    {
        Options = options;
        if (options.Momentum != 0) _momentumBuffer = AddState("momentum_buffer");
    }

    public SgdOptions Options { get; }

    private static SgdOptions Validate(SgdOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        if (!(o.Momentum >= 0)) throw new ArgumentOutOfRangeException(nameof(o), o.Momentum, "Sgd: momentum must be non-negative");
        if (!(o.WeightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(o), o.WeightDecay, "Sgd: weight decay must be non-negative");
        if (double.IsNaN(o.Dampening)) throw new ArgumentOutOfRangeException(nameof(o), o.Dampening, "Sgd: dampening must be a number");
        if (o.Nesterov && (o.Momentum <= 0 || o.Dampening != 0))
            throw new ArgumentException("Sgd: Nesterov momentum requires a positive momentum and zero dampening");
        return o;
    }

    public override void Step(Gradients grads)
    {
        ArgumentNullException.ThrowIfNull(grads);
        BeginStep();
        foreach (var p in States)
        {
            var g = GradientFor(grads, p);
            if (g is null) continue;
            if (p.Value.DType == DType.Float32) Update<float>(p, g);
            else Update<double>(p, g);
        }
    }

    private void Update<T>(ParameterState p, Tensor g) where T : unmanaged, INumberBase<T>
    {
        var rule = new Rule<T>(Options, LearningRate, firstUpdate: p.Step == 1, hasMomentum: _momentumBuffer >= 0);
        FusedLoop.Run(rule, p.Span<T>(), g.AsSpan<T>(), p.Buffer<T>(_momentumBuffer), threads: p.Threads);
    }

    private readonly struct Rule<T>(SgdOptions o, double lr, bool firstUpdate, bool hasMomentum) : IFusedUpdate<T>
        where T : unmanaged, INumberBase<T>
    {
        private readonly Vector<T> _lr = FusedLoop.Splat<T>(lr);
        private readonly Vector<T> _decay = FusedLoop.Splat<T>(o.WeightDecay);
        private readonly Vector<T> _momentum = FusedLoop.Splat<T>(o.Momentum);
        private readonly Vector<T> _undamped = FusedLoop.Splat<T>(1 - o.Dampening);
        private readonly bool _weightDecay = o.WeightDecay != 0;
        private readonly bool _nesterov = o.Nesterov;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply(ref Vector<T> p, Vector<T> g, ref Vector<T> v, ref Vector<T> unused1, ref Vector<T> unused2)
        {
            if (_weightDecay) g += _decay * p;
            if (hasMomentum)
            {
                v = firstUpdate ? g : _momentum * v + _undamped * g;
                g = _nesterov ? g + _momentum * v : v;
            }
            p -= _lr * g;
        }
    }
}
