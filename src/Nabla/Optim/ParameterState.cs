namespace Nabla.Optim;

/// <summary>
/// One parameter as an optimizer sees it: its name, the tensor updated in place, how many updates it has received
/// (it is skipped on steps where its gradient is null, so this can lag <see cref="Optimizer.Steps"/>), and its
/// state buffers in the order the optimizer registered them.
/// </summary>
internal sealed class ParameterState(string name, Tensor value)
{
    public string Name { get; } = name;

    public Tensor Value { get; } = value;

    /// <summary>Number of updates this parameter has received (PyTorch's per-parameter <c>state["step"]</c>).</summary>
    public long Step { get; set; }

    public List<(string Name, Tensor Value)> Buffers { get; } = [];

    public Span<T> Span<T>() where T : unmanaged => Value.AsSpan<T>();

    /// <summary>The thread budget of the parameter's device, for the update loop.</summary>
    public int Threads => Value.Device.Backend.Threads;

    public Span<T> Buffer<T>(int index) where T : unmanaged => index < 0 ? default : Buffers[index].Value.AsSpan<T>();
}
