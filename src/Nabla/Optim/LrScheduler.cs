using Nabla.Kernels;

namespace Nabla.Optim;

/// <summary>
/// Sets an optimizer's learning rate from a closed-form schedule τ(e) of a counter e (<see cref="LastEpoch"/>) and
/// the base rate τ₀ (the optimizer's rate when the scheduler was made). The counter starts at 0, where the rate is
/// set on construction, and each <see cref="Step"/> advances it by one: call it once per epoch or once per
/// iteration, as the schedule's parameters are meant. The schedule is recomputed from τ₀ each time, so the rate
/// never accumulates rounding (PyTorch's chained form agrees to the last few bits).
/// <para>
/// Derived constructors end by calling <see cref="ApplyLearningRate"/>, so the optimizer starts at τ(0).
/// </para>
/// </summary>
public abstract class LrScheduler
{
    protected LrScheduler(Optimizer optimizer, double? baseLearningRate = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        Optimizer = optimizer;
        BaseLearningRate = baseLearningRate ?? optimizer.LearningRate;
    }

    public Optimizer Optimizer { get; }

    /// <summary>τ₀, the rate the schedule scales.</summary>
    public double BaseLearningRate { get; internal set; }

    /// <summary>The counter e of the rate now set (0 after construction, +1 per <see cref="Step"/>).</summary>
    public int LastEpoch { get; private set; }

    /// <summary>The rate this schedule gives at counter <paramref name="epoch"/> ≥ 0.</summary>
    public abstract double LearningRateAt(int epoch);

    /// <summary>Advances the counter and sets the optimizer's learning rate to τ(e).</summary>
    public void Step()
    {
        LastEpoch++;
        ApplyLearningRate();
    }

    /// <summary>Sets the optimizer's learning rate to τ(<see cref="LastEpoch"/>).</summary>
    protected void ApplyLearningRate() => Optimizer.LearningRate = LearningRateAt(LastEpoch);

    /// <summary>Called after <see cref="LoadStateDict"/> restored the base rate and the counter.</summary>
    private protected virtual void AfterStateLoaded() { }

    /// <summary>The scheduler's state: <c>last_epoch</c> (0-d int64) and <c>base_lr</c> (0-d float64).</summary>
    public IReadOnlyDictionary<string, Tensor> StateDict() => new Dictionary<string, Tensor>(StringComparer.Ordinal)
    {
        ["last_epoch"] = Tensor.Scalar(LastEpoch, DType.Int64),
        ["base_lr"] = Tensor.Scalar(BaseLearningRate, DType.Float64),
    };

    /// <summary>Restores state saved by <see cref="StateDict"/> and sets the optimizer's rate to match.</summary>
    /// <exception cref="InvalidDataException">The state does not have exactly the expected entries.</exception>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        string kind = GetType().Name;
        string[] expected = ["last_epoch", "base_lr"];
        var missing = expected.Where(k => !state.ContainsKey(k)).ToList();
        var unexpected = state.Keys.Where(k => !expected.Contains(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new InvalidDataException($"{kind}.LoadStateDict: state does not match a scheduler (missing: [{string.Join(", ", missing)}], unexpected: [{string.Join(", ", unexpected)}])");
        foreach (string k in expected)
            if (state[k].Count != 1) throw new InvalidDataException($"{kind}.LoadStateDict: '{k}' has shape {Tensor.ShapeString(state[k].Shape)}, expected a single value");
        double epoch = state["last_epoch"].Item(), baseLr = state["base_lr"].Item();
        if (!(epoch >= 0 && epoch <= int.MaxValue) || epoch != Math.Floor(epoch))
            throw new InvalidDataException($"{kind}.LoadStateDict: 'last_epoch' is {epoch}, not a non-negative integer");
        if (!(baseLr >= 0) || double.IsInfinity(baseLr))
            throw new InvalidDataException($"{kind}.LoadStateDict: 'base_lr' is {baseLr}, not a finite non-negative learning rate");
        LastEpoch = (int)epoch;
        BaseLearningRate = baseLr;
        AfterStateLoaded();
        ApplyLearningRate();
    }

    public override string ToString() => $"{GetType().Name}(base_lr={BaseLearningRate}, last_epoch={LastEpoch})";
}
