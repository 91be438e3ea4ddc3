namespace Nabla.Autodiff;

/// <summary>
/// The result of <see cref="Tensor.Backward(Tensor?, bool)"/>: the gradient of the output with respect to each
/// leaf that requires it. Gradients are a value, not state on tensors, so there is no <c>zero_grad</c> ritual;
/// accumulate on purpose with <see cref="Add"/>.
/// </summary>
public sealed class Gradients
{
    private readonly Dictionary<Tensor, Tensor> _grads;

    internal Gradients(Dictionary<Tensor, Tensor> grads) => _grads = grads;

    /// <summary>The gradient with respect to <paramref name="t"/>, or null when the output does not depend on it.</summary>
    public Tensor? this[Tensor t] => _grads.TryGetValue(t, out var g) ? g : null;

    /// <summary>The gradient with respect to <paramref name="t"/>, or zeros of its shape when the output does not depend on it.</summary>
    public Tensor Of(Tensor t) => this[t] ?? Tensor.ZerosLike(t);

    public int Count => _grads.Count;

    public IEnumerable<KeyValuePair<Tensor, Tensor>> All => _grads;

    /// <summary>The sum of two sets of gradients (gradient accumulation over several batches).</summary>
    public Gradients Add(Gradients other)
    {
        var sum = new Dictionary<Tensor, Tensor>(_grads, ReferenceEqualityComparer.Instance);
        foreach (var (t, g) in other._grads) sum[t] = sum.TryGetValue(t, out var h) ? h + g : g;
        return new Gradients(sum);
    }
}
