using System.Numerics;
using System.Runtime.CompilerServices;
using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Optim;

/// <summary>
/// Stochastic gradient descent with averaging (SGA, 001 §17.1.4; Polyak–Ruppert averaging): plain gradient steps
/// on the iterates p, and the Cesàro average p̄ of the iterates as the estimate. At step ℓ = 1, 2, …:
/// <code>
/// p ← p − τ·(g + λ·p)                 (skipped when p's gradient is null)
/// p̄ ← p̄ + (p − p̄)/c,  c = max(1, ℓ − ℓₐ + 1)
/// </code>
/// so that with ℓₐ = 0, p̄ after step ℓ is (1/(ℓ+1))·Σ_{k=0..ℓ} p_k, the mean of the starting point and every
/// iterate since; with ℓₐ &gt; 0 it is the mean of the iterates ℓₐ … ℓ (and p itself before ℓₐ). Every parameter's
/// average advances every step, also on steps where its gradient is null (its iterate is then unchanged).
/// <para>
/// Training continues on p; evaluate on p̄ with <see cref="UseAverage"/> or <see cref="SwapAverage"/>, which
/// exchange the contents of each parameter and its average in place. State: <c>average</c> (p̄), one copy of
/// the parameters.
/// </para>
/// </summary>
public sealed class Sga : Optimizer
{
    private readonly int _average;

    public Sga(IEnumerable<(string Name, Tensor Value)> parameters, SgaOptions options)
        : base(parameters, Validate(options).LearningRate)
    {
        Options = options;
        _average = AddState("average", p =>
        {
            var copy = Tensor.ZerosLike(p);
            copy.CopyFrom(p);
            return copy;
        });
        AverageBuffers = [.. States.Select(p => (p.Name, p.Buffers[_average].Value))];
    }

    public SgaOptions Options { get; }

    /// <summary>Whether the parameters currently hold the averages (after an odd number of <see cref="SwapAverage"/> calls).</summary>
    public bool HoldsAverage { get; private set; }

    private IReadOnlyList<(string Name, Tensor Value)> AverageBuffers { get; }

    /// <summary>
    /// The averaged parameters p̄ by name, wherever they currently live (the parameters themselves while
    /// <see cref="HoldsAverage"/>). Live tensors: read them, do not modify them.
    /// </summary>
    public IReadOnlyList<(string Name, Tensor Value)> Averages => HoldsAverage ? Parameters : AverageBuffers;

    /// <summary>The average p̄ of <paramref name="parameter"/>, one of <see cref="Optimizer.Parameters"/> (a live tensor; do not modify it).</summary>
    public Tensor AverageOf(Tensor parameter)
    {
        for (int i = 0; i < Parameters.Count; i++)
            if (ReferenceEquals(Parameters[i].Value, parameter)) return Averages[i].Value;
        throw new ArgumentException("Sga.AverageOf: the tensor is not one of this optimizer's parameters");
    }

    /// <summary>Exchanges, in place, the contents of every parameter and its average; call again to swap back.</summary>
    public void SwapAverage()
    {
        foreach (var p in States)
        {
            if (p.Value.DType == DType.Float32) Swap(p.Span<float>(), p.Buffer<float>(_average));
            else Swap(p.Span<double>(), p.Buffer<double>(_average));
        }
        HoldsAverage = !HoldsAverage;
    }

    /// <summary>Runs <paramref name="evaluate"/> with the averages in the parameters, then puts the iterates back.</summary>
    public void UseAverage(Action evaluate)
    {
        ArgumentNullException.ThrowIfNull(evaluate);
        if (HoldsAverage) throw new InvalidOperationException("Sga.UseAverage: the parameters already hold the averages");
        SwapAverage();
        try
        {
            evaluate();
        }
        finally
        {
            SwapAverage();
        }
    }

    private static void Swap<T>(Span<T> a, Span<T> b)
    {
        for (int i = 0; i < a.Length; i++) (a[i], b[i]) = (b[i], a[i]);
    }

    private static SgaOptions Validate(SgaOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        if (!(o.WeightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(o), o.WeightDecay, "Sga: weight decay must be non-negative");
        if (o.AverageFrom < 0) throw new ArgumentOutOfRangeException(nameof(o), o.AverageFrom, "Sga: AverageFrom must be non-negative");
        return o;
    }

    private protected override void BeforeStateAccess(string operation)
    {
        if (HoldsAverage) throw new InvalidOperationException($"Sga.{operation}: the parameters hold the averages; call SwapAverage() to put the iterates back first");
    }

    public override void Step(Gradients grads)
    {
        ArgumentNullException.ThrowIfNull(grads);
        if (HoldsAverage) throw new InvalidOperationException("Sga.Step: the parameters hold the averages; call SwapAverage() to put the iterates back before training");
        BeginStep();
        double weight = 1.0 / Math.Max(1, Steps - Options.AverageFrom + 1);
        foreach (var p in States)
        {
            var g = GradientFor(grads, p);
            if (p.Value.DType == DType.Float32) Update<float>(p, g, weight);
            else Update<double>(p, g, weight);
        }
    }

    private void Update<T>(ParameterState p, Tensor? g, double weight) where T : unmanaged, INumberBase<T>
    {
        var param = p.Span<T>();
        // Without a gradient only the average moves; the parameter's own span stands in for the unused gradient.
        var rule = new Rule<T>(Options, LearningRate, weight, step: g is not null);
        FusedLoop.Run(rule, param, g is null ? param : g.AsSpan<T>(), p.Buffer<T>(_average), threads: p.Threads);
    }

    private readonly struct Rule<T>(SgaOptions o, double lr, double weight, bool step) : IFusedUpdate<T> where T : unmanaged, INumberBase<T>
    {
        private readonly Vector<T> _lr = FusedLoop.Splat<T>(lr);
        private readonly Vector<T> _decay = FusedLoop.Splat<T>(o.WeightDecay);
        private readonly Vector<T> _weight = FusedLoop.Splat<T>(weight);
        private readonly bool _hasDecay = o.WeightDecay != 0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply(ref Vector<T> p, Vector<T> g, ref Vector<T> average, ref Vector<T> unused1, ref Vector<T> unused2)
        {
            if (step)
            {
                if (_hasDecay) g += _decay * p;
                p -= _lr * g;
            }
            average += (p - average) * _weight;
        }
    }
}
