using System.Numerics;
using System.Runtime.CompilerServices;
using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Optim;

/// <summary>
/// RMSprop (Hinton), matching <c>torch.optim.RMSprop</c>. For each parameter p with gradient g:
/// <code>
/// g ← g + λ·p                              (weight decay λ, when λ ≠ 0)
/// s ← α·s + (1 − α)·g²
/// ḡ ← α·ḡ + (1 − α)·g,  a ← √(s − ḡ²) + ε    (centered)
///                        a ← √s + ε          (otherwise)
/// b ← μ·b + g/a,  p ← p − τ·b              (momentum μ &gt; 0)
/// p ← p − τ·g/a                            (otherwise)
/// </code>
/// State: <c>square_avg</c> (s), with momentum <c>momentum_buffer</c> (b), when centered <c>grad_avg</c> (ḡ); all
/// start at 0 (there is no bias correction).
/// </summary>
public sealed class RmsProp : Optimizer
{
    private readonly int _squareAvg, _momentumBuffer = -1, _gradAvg = -1;

    public RmsProp(IEnumerable<(string Name, Tensor Value)> parameters, RmsPropOptions? options = null)
        : base(parameters, Validate(options ??= new RmsPropOptions()).LearningRate)
    {
        Options = options;
        _squareAvg = AddState("square_avg");
        if (options.Momentum > 0) _momentumBuffer = AddState("momentum_buffer");
        if (options.Centered) _gradAvg = AddState("grad_avg");
    }

    public RmsPropOptions Options { get; }

    private static RmsPropOptions Validate(RmsPropOptions o)
    {
        if (!(o.Alpha >= 0)) throw new ArgumentOutOfRangeException(nameof(o), o.Alpha, "RmsProp: α must be non-negative");
        if (!(o.Eps >= 0)) throw new ArgumentOutOfRangeException(nameof(o), o.Eps, "RmsProp: ε must be non-negative");
        if (!(o.Momentum >= 0)) throw new ArgumentOutOfRangeException(nameof(o), o.Momentum, "RmsProp: momentum must be non-negative");
        if (!(o.WeightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(o), o.WeightDecay, "RmsProp: weight decay must be non-negative");
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

    private void Update<T>(ParameterState p, Tensor g) where T : unmanaged, INumberBase<T> =>
        FusedLoop.Run(new Rule<T>(Options, LearningRate), p.Span<T>(), g.AsSpan<T>(),
            p.Buffer<T>(_squareAvg), p.Buffer<T>(_momentumBuffer), p.Buffer<T>(_gradAvg), p.Threads);

    private readonly struct Rule<T>(RmsPropOptions o, double lr) : IFusedUpdate<T> where T : unmanaged, INumberBase<T>
    {
        private readonly Vector<T> _lr = FusedLoop.Splat<T>(lr);
        private readonly Vector<T> _alpha = FusedLoop.Splat<T>(o.Alpha);
        private readonly Vector<T> _oneMinusAlpha = FusedLoop.Splat<T>(1 - o.Alpha);
        private readonly Vector<T> _eps = FusedLoop.Splat<T>(o.Eps);
        private readonly Vector<T> _decay = FusedLoop.Splat<T>(o.WeightDecay);
        private readonly Vector<T> _momentum = FusedLoop.Splat<T>(o.Momentum);
        private readonly bool _hasDecay = o.WeightDecay != 0;
        private readonly bool _hasMomentum = o.Momentum > 0;
        private readonly bool _centered = o.Centered;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply(ref Vector<T> p, Vector<T> g, ref Vector<T> s, ref Vector<T> b, ref Vector<T> gAvg)
        {
            if (_hasDecay) g += _decay * p;
            s = _alpha * s + _oneMinusAlpha * (g * g);
            Vector<T> a;
            if (_centered)
            {
                gAvg = _alpha * gAvg + _oneMinusAlpha * g;
                a = Vector.SquareRoot(s - gAvg * gAvg) + _eps;
            }
            else
            {
                a = Vector.SquareRoot(s) + _eps;
            }
            if (_hasMomentum)
            {
                b = _momentum * b + g / a;
                p -= _lr * b;
            }
            else
            {
                p -= _lr * (g / a);
            }
        }
    }
}
