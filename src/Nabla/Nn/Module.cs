namespace Nabla.Nn;

/// <summary>
/// A layer or network: a function of a tensor with named parameters. Each module lists its own parameters
/// explicitly (no reflection), composing its children's lists under a prefix, as PyTorch names them ("0.weight").
/// </summary>
/// <remarks>
/// The modules of this library keep no reference to their input once Forward returns: <see cref="Sequential"/> relies on
/// it to hand intermediate results back to the buffer pool during inference.
/// </remarks>
public abstract class Module
{
    /// <summary>The forward pass in the given mode.</summary>
    public abstract Tensor Forward(Tensor x, Mode mode);

    /// <summary>The forward pass in evaluation mode.</summary>
    public Tensor Forward(Tensor x) => Forward(x, Mode.Eval);

    /// <summary>Trainable tensors with their dotted names, in a stable order.</summary>
    public virtual IEnumerable<(string Name, Tensor Value)> NamedParameters() => [];

    /// <summary>Non-trainable state saved with the model (batch-norm running statistics).</summary>
    public virtual IEnumerable<(string Name, Tensor Value)> NamedBuffers() => [];

    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Value);

    /// <summary>Parameters and buffers: everything a checkpoint of the model holds.</summary>
    public IEnumerable<(string Name, Tensor Value)> StateDict() => NamedParameters().Concat(NamedBuffers());

    /// <summary>Total number of trainable scalars.</summary>
    public long ParameterCount => Parameters().Sum(p => (long)p.Count);

    /// <summary>Copies values into this module's parameters and buffers by name; shapes and dtypes must match exactly.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, string source = "state dict")
    {
        var own = StateDict().ToList();
        var missing = own.Where(p => !state.ContainsKey(p.Name)).Select(p => p.Name).ToList();
        var unexpected = state.Keys.Except(own.Select(p => p.Name)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new InvalidDataException($"{source}: does not match the model (missing: [{string.Join(", ", missing)}], unexpected: [{string.Join(", ", unexpected)}])");
        foreach (var (name, target) in own)
        {
            var value = state[name];
            if (!Shapes.Equal(value.Shape, target.Shape))
                throw new InvalidDataException($"{source}: '{name}' has shape {Tensor.ShapeString(value.Shape)} but the model expects {Tensor.ShapeString(target.Shape)}");
            if (value.DType != target.DType)
                throw new InvalidDataException($"{source}: '{name}' has dtype {value.DType} but the model expects {target.DType}");
            target.CopyFrom(value);
        }
    }

    public override string ToString() => GetType().Name;
}

public static class ModuleExtensions
{
    /// <summary>Prefixes names with "<paramref name="prefix"/>.", how containers name their children's parameters.</summary>
    public static IEnumerable<(string Name, Tensor Value)> Prefixed(this IEnumerable<(string Name, Tensor Value)> items, string prefix) =>
        items.Select(p => ($"{prefix}.{p.Name}", p.Value));
}
