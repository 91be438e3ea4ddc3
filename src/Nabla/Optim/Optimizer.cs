using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Optim;

/// <summary>
/// Updates named parameters in place from a <see cref="Gradients"/> value. Each step is one fused, vectorized pass
/// per parameter over the parameter, its gradient and its state, with no tensor allocated (unless a gradient
/// arrives non-contiguous or in another dtype, which is converted first). Parameters whose gradient is null are
/// skipped, as in PyTorch: neither they nor their state change.
/// <para>
/// Parameters must be contiguous float32 or float64 CPU tensors with distinct names. One learning rate applies to
/// all of them; schedulers (<see cref="LrScheduler"/>) set it between steps.
/// </para>
/// <para>
/// State (<see cref="StateDict"/>) holds, for a parameter named <c>p</c>, its buffers as <c>p.exp_avg</c> … and its
/// update count as <c>p.step</c>, plus the optimizer-wide <c>step</c> (<see cref="Steps"/>) and <c>lr</c>.
/// </para>
/// </summary>
public abstract class Optimizer
{
    private readonly ParameterState[] _parameters;
    private readonly List<(string Name, Tensor Value)> _globalState = [];
    private double _learningRate;

    protected Optimizer(IEnumerable<(string Name, Tensor Value)> parameters, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var tensors = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var list = new List<ParameterState>();
        string kind = GetType().Name;
        foreach (var (name, value) in parameters)
        {
            ArgumentNullException.ThrowIfNull(value);
            if (string.IsNullOrEmpty(name)) throw new ArgumentException($"{kind}: parameter names must be non-empty");
            if (!names.Add(name)) throw new ArgumentException($"{kind}: parameter name '{name}' appears twice");
            if (!tensors.Add(value)) throw new ArgumentException($"{kind}: parameter '{name}' is a tensor already given under another name");
            if (!value.DType.IsFloatingPoint()) throw new ArgumentException($"{kind}: parameter '{name}' holds {value.DType}; only float32 and float64 parameters can be optimized");
            if (value.Device.Type != DeviceType.Cpu) throw new NotSupportedException($"{kind}: parameter '{name}' is on {value.Device}; optimizers update CPU tensors only");
            if (!value.IsContiguous) throw new ArgumentException($"{kind}: parameter '{name}' is not contiguous; optimizers update parameters in place and need dense storage");
            list.Add(new ParameterState(name, value));
        }
        if (list.Count == 0) throw new ArgumentException($"{kind}: got an empty parameter list");
        _parameters = [.. list];
        Parameters = [.. list.Select(p => (p.Name, p.Value))];
        LearningRate = learningRate;
    }

    /// <summary>The parameters this optimizer updates, in the order given.</summary>
    public IReadOnlyList<(string Name, Tensor Value)> Parameters { get; }

    /// <summary>The step size τ used by the next <see cref="Step(Gradients)"/>; schedulers set it.</summary>
    public double LearningRate
    {
        get => _learningRate;
        set
        {
            if (!(value >= 0) || double.IsInfinity(value))
                throw new ArgumentOutOfRangeException(nameof(value), value, $"{GetType().Name}: learning rate must be finite and non-negative");
            _learningRate = value;
        }
    }

    /// <summary>Number of completed steps.</summary>
    public long Steps { get; private set; }

    /// <summary>Updates every parameter that has a gradient in <paramref name="grads"/>, in place.</summary>
    public abstract void Step(Gradients grads);

    private protected ParameterState[] States => _parameters;

    /// <summary>
    /// Registers a state buffer named <paramref name="name"/> for every parameter, made by
    /// <paramref name="create"/> (zeros of the parameter's shape when null). Returns the buffer's index.
    /// </summary>
    private protected int AddState(string name, Func<Tensor, Tensor>? create = null)
    {
        int index = _parameters[0].Buffers.Count;
        foreach (var p in _parameters)
        {
            var buffer = create is null ? Tensor.ZerosLike(p.Value) : create(p.Value);
            if (buffer.DType != p.Value.DType || !buffer.IsContiguous)
                throw new InvalidOperationException($"{GetType().Name}: state '{name}' must be contiguous {p.Value.DType}");
            p.Buffers.Add((name, buffer));
        }
        return index;
    }

    /// <summary>Registers an optimizer-wide state tensor (contiguous, CPU) saved under <paramref name="name"/>.</summary>
    private protected Tensor AddGlobalState(string name, Tensor value)
    {
        _globalState.Add((name, value));
        return value;
    }

    /// <summary>Counts a step; call once at the start of <see cref="Step(Gradients)"/>.</summary>
    private protected void BeginStep() => Steps++;

    /// <summary>
    /// The gradient for <paramref name="p"/>, contiguous and of the parameter's dtype, or null when the loss does not
    /// depend on it. A non-null gradient counts as an update of <paramref name="p"/> (its step is incremented).
    /// </summary>
    private protected Tensor? GradientFor(Gradients grads, ParameterState p)
    {
        var g = grads[p.Value];
        if (g is null) return null;
        CheckGradient(g, p);
        p.Step++;
        return (g.DType == p.Value.DType ? g : g.To(p.Value.DType)).Contiguous();
    }

    /// <summary>The gradient of <paramref name="p"/>, or null; does not count as an update.</summary>
    private protected Tensor? PeekGradient(Gradients grads, ParameterState p)
    {
        var g = grads[p.Value];
        if (g is null) return null;
        CheckGradient(g, p);
        return (g.DType == p.Value.DType ? g : g.To(p.Value.DType)).Contiguous();
    }

    private void CheckGradient(Tensor g, ParameterState p)
    {
        if (!Shapes.Equal(g.Shape, p.Value.Shape))
            throw new ArgumentException($"{GetType().Name}: gradient of '{p.Name}' has shape {Tensor.ShapeString(g.Shape)} but the parameter has shape {Tensor.ShapeString(p.Value.Shape)}");
        if (g.Device.Type != DeviceType.Cpu)
            throw new NotSupportedException($"{GetType().Name}: gradient of '{p.Name}' is on {g.Device}; optimizers update CPU tensors only");
    }

    /// <summary>Called before saving or loading state; throws when the optimizer is in a state that must not be saved.</summary>
    private protected virtual void BeforeStateAccess(string operation) { }

    /// <summary>Called after <see cref="LoadStateDict"/> copied the state in, to rebuild anything derived from it.</summary>
    private protected virtual void AfterStateLoaded() { }

    /// <summary>
    /// A snapshot of the optimizer's state: <c>step</c> and <c>lr</c> (0-d int64 and float64), every parameter's
    /// buffers as <c>name.buffer</c> and its update count as <c>name.step</c>, and optimizer-wide buffers.
    /// The tensors are copies: later steps do not change them.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> StateDict()
    {
        BeforeStateAccess("StateDict");
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            ["step"] = Tensor.Scalar(Steps, DType.Int64),
            ["lr"] = Tensor.Scalar(LearningRate, DType.Float64),
        };
        foreach (var (name, value) in _globalState) state[name] = Copy(value);
        foreach (var p in _parameters)
        {
            state[$"{p.Name}.step"] = Tensor.Scalar(p.Step, DType.Int64);
            foreach (var (name, value) in p.Buffers) state[$"{p.Name}.{name}"] = Copy(value);
        }
        return state;
    }

    /// <summary>
    /// Restores state saved by <see cref="StateDict"/> of an optimizer of the same kind and configuration over
    /// parameters with the same names and shapes. Names, shapes and dtypes are checked before anything is changed.
    /// </summary>
    /// <exception cref="InvalidDataException">The state does not match this optimizer.</exception>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        BeforeStateAccess("LoadStateDict");
        string kind = GetType().Name;
        var expected = new List<(string Name, int[] Shape, DType DType)> { ("step", [], DType.Int64), ("lr", [], DType.Float64) };
        foreach (var (name, value) in _globalState) expected.Add((name, value.Shape, value.DType));
        foreach (var p in _parameters)
        {
            expected.Add(($"{p.Name}.step", [], DType.Int64));
            foreach (var (name, value) in p.Buffers) expected.Add(($"{p.Name}.{name}", value.Shape, value.DType));
        }
        var missing = expected.Where(e => !state.ContainsKey(e.Name)).Select(e => e.Name).ToList();
        var known = expected.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        var unexpected = state.Keys.Where(k => !known.Contains(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new InvalidDataException($"{kind}.LoadStateDict: state does not match this optimizer (missing: [{string.Join(", ", missing)}], unexpected: [{string.Join(", ", unexpected)}])");
        foreach (var (name, shape, dtype) in expected)
        {
            var value = state[name];
            if (!Shapes.Equal(value.Shape, shape))
                throw new InvalidDataException($"{kind}.LoadStateDict: '{name}' has shape {Tensor.ShapeString(value.Shape)} but this optimizer expects {Tensor.ShapeString(shape)}");
            if (value.DType != dtype)
                throw new InvalidDataException($"{kind}.LoadStateDict: '{name}' has dtype {value.DType} but this optimizer expects {dtype}");
        }
        long steps = Count(state, "step");
        double lr = state["lr"].Item();
        if (!(lr >= 0) || double.IsInfinity(lr)) throw new InvalidDataException($"{kind}.LoadStateDict: 'lr' is {lr}, not a finite non-negative learning rate");
        var counts = _parameters.Select(p => Count(state, $"{p.Name}.step")).ToArray();

        Steps = steps;
        LearningRate = lr;
        foreach (var (name, value) in _globalState) value.CopyFrom(state[name]);
        for (int i = 0; i < _parameters.Length; i++)
        {
            var p = _parameters[i];
            p.Step = counts[i];
            foreach (var (name, value) in p.Buffers) value.CopyFrom(state[$"{p.Name}.{name}"]);
        }
        AfterStateLoaded();

        long Count(IReadOnlyDictionary<string, Tensor> s, string name)
        {
            long n = s[name].ToArray<long>()[0];
            if (n < 0) throw new InvalidDataException($"{kind}.LoadStateDict: '{name}' is {n}, a negative step count");
            return n;
        }
    }

    private static Tensor Copy(Tensor t)
    {
        var copy = Tensor.ZerosLike(t);
        copy.CopyFrom(t);
        return copy;
    }

    public override string ToString() => $"{GetType().Name}(parameters={_parameters.Length}, lr={LearningRate})";
}
