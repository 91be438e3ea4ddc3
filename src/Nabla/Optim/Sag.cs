using System.Numerics;
using System.Runtime.CompilerServices;
using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Optim;

/// <summary>
/// Stochastic average gradient (SAG, 001 §17.1.5; Le Roux, Schmidt &amp; Bach) for a loss (1/n)·Σᵢ Eᵢ over n samples.
/// It keeps the last gradient Gⁱ seen for every sample i and their sum S, and steps with their average. A step on
/// the gradient h of sample i (from <see cref="Step(Gradients, int)"/>):
/// <code>
/// S ← S − Gⁱ + h,   Gⁱ ← h
/// p ← p − τ·(S/m + λ·p),   m = n  (or the number of distinct samples seen so far, with NormalizeBySeen)
/// </code>
/// A null gradient for a parameter counts as h = 0 (sample i does not depend on it); every parameter moves every
/// step, since the average of the table does. The step size τ stays fixed.
/// <para>
/// Memory: the table holds n copies of every parameter (n × parameter count elements in the parameter's dtype, as
/// the state <c>grad_table</c> of shape [n, …]), plus the sum <c>grad_sum</c> and the flags <c>seen</c> [n]. For
/// a million float32 parameters and n = 1000 that is 4 GB: SAG suits small models over data sets that fit in
/// memory, or n counted in fixed batches rather than samples. S is updated incrementally, so it carries the
/// rounding of every update; in float32 over very long runs it can drift slightly from the exact table sum.
/// </para>
/// </summary>
public sealed class Sag : Optimizer
{
    private readonly int _gradSum, _gradTable;
    private readonly Tensor _seen;
    private int _seenCount;

    public Sag(IEnumerable<(string Name, Tensor Value)> parameters, SagOptions options)
        : base(parameters, Validate(options).LearningRate)
    {
        Options = options;
        _gradSum = AddState("grad_sum");
        _gradTable = AddState("grad_table", p => Tensor.Zeros([options.SampleCount, .. p.Shape], p.DType));
        _seen = AddGlobalState("seen", Tensor.Zeros([options.SampleCount], DType.Bool));
    }

    public SagOptions Options { get; }

    /// <summary>Number of distinct samples whose gradient is in the table.</summary>
    public int SeenCount => _seenCount;

    private static SagOptions Validate(SagOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        if (o.SampleCount <= 0) throw new ArgumentOutOfRangeException(nameof(o), o.SampleCount, "Sag: the sample count must be positive");
        if (!(o.WeightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(o), o.WeightDecay, "Sag: weight decay must be non-negative");
        return o;
    }

    /// <summary>Not available: SAG needs to know which sample the gradient belongs to.</summary>
    /// <exception cref="NotSupportedException">Always; call <see cref="Step(Gradients, int)"/>.</exception>
    public override void Step(Gradients grads) =>
        throw new NotSupportedException("Sag.Step: SAG replaces one row of its gradient table per step; call Step(grads, sampleIndex) with the index of the sample (or batch) the gradient was computed on");

    /// <summary>One SAG step on <paramref name="grads"/>, the gradient of the loss term of sample <paramref name="sampleIndex"/>.</summary>
    public void Step(Gradients grads, int sampleIndex)
    {
        ArgumentNullException.ThrowIfNull(grads);
        if ((uint)sampleIndex >= (uint)Options.SampleCount)
            throw new ArgumentOutOfRangeException(nameof(sampleIndex), sampleIndex, $"Sag.Step: sample index must be in [0, {Options.SampleCount})");
        BeginStep();
        var seen = _seen.AsSpan<byte>();
        if (seen[sampleIndex] == 0)
        {
            seen[sampleIndex] = 1;
            _seenCount++;
        }
        double scale = 1.0 / (Options.NormalizeBySeen ? _seenCount : Options.SampleCount);
        foreach (var p in States)
        {
            var g = PeekGradient(grads, p);
            p.Step++;
            if (p.Value.DType == DType.Float32) Update<float>(p, g, sampleIndex, scale);
            else Update<double>(p, g, sampleIndex, scale);
        }
    }

    private void Update<T>(ParameterState p, Tensor? g, int sampleIndex, double scale) where T : unmanaged, INumberBase<T>
    {
        var param = p.Span<T>();
        int count = param.Length;
        var row = p.Buffer<T>(_gradTable).Slice(sampleIndex * count, count);
        var rule = new Rule<T>(LearningRate, scale, Options.WeightDecay, zeroGradient: g is null);
        FusedLoop.Run(rule, param, g is null ? param : g.AsSpan<T>(), p.Buffer<T>(_gradSum), row, threads: p.Threads);
    }

    private protected override void AfterStateLoaded()
    {
        int n = 0;
        foreach (byte b in _seen.AsSpan<byte>()) n += b != 0 ? 1 : 0;
        _seenCount = n;
    }

    private readonly struct Rule<T>(double lr, double scale, double weightDecay, bool zeroGradient) : IFusedUpdate<T> where T : unmanaged, INumberBase<T>
    {
        private readonly Vector<T> _lr = FusedLoop.Splat<T>(lr);
        private readonly Vector<T> _scale = FusedLoop.Splat<T>(scale);
        private readonly Vector<T> _decay = FusedLoop.Splat<T>(weightDecay);
        private readonly bool _hasDecay = weightDecay != 0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply(ref Vector<T> p, Vector<T> h, ref Vector<T> sum, ref Vector<T> row, ref Vector<T> unused)
        {
            if (zeroGradient) h = Vector<T>.Zero;
            sum = sum - row + h;
            row = h;
            Vector<T> step = sum * _scale;
            if (_hasDecay) step += _decay * p;
            p -= _lr * step;
        }
    }
}
