using Nabla.Autodiff;

namespace Nabla.Nn;

/// <summary>Applies its layers in order. Parameters are named by position, as in PyTorch ("0.weight", "2.bias").</summary>
public sealed class Sequential(params Module[] layers) : Module
{
    public IReadOnlyList<Module> Layers { get; } = layers;

    /// <remarks>
    /// A Linear layer (with a bias) and the ReLU after it run as one product that rectifies each tile of its result as
    /// it completes, one graph node (see <see cref="Primitives.Linear"/>), instead of a second pass over the result.
    /// Without autograd recording (inference), an intermediate result is read by the next layer only, so once that
    /// layer has returned, its memory goes straight back to the buffer pool (<see cref="Kernels.IBackend.Recycle"/>)
    /// instead of waiting for the collector to find it dead: the next layer or call then writes into buffers still in
    /// cache, as PyTorch's caching allocator reuses a block freed by reference counting. Only when every layer is one of
    /// this library's, which keep no reference to their input; never the caller's input (nor a view of it), and never a
    /// result the next layer returned a view of (Flatten). Zen 3, in-process A/B: LeNet batch-1 inference 218–219 →
    /// 209–211 µs, the MLP at batch 256 767–770 → 744–745 µs (medians).
    /// </remarks>
    public override Tensor Forward(Tensor x, Mode mode)
    {
        bool recycles = !GradMode.IsEnabled && _recyclesIntermediates;
        var input = x.Storage;
        for (int i = 0; i < Layers.Count; i++)
        {
            Tensor next;
            if (Layers[i] is Linear linear && i + 1 < Layers.Count && Layers[i + 1] is ReLU)
            {
                next = linear.ForwardRelu(x, mode);
                i++;   // the ReLU is done
            }
            else next = Layers[i].Forward(x, mode);
            if (recycles && !ReferenceEquals(x.Storage, input) && !ReferenceEquals(next.Storage, x.Storage)) x.Device.Backend.Recycle(x.Storage);
            x = next;
        }
        return x;
    }

    /// <summary>Whether every layer is this library's (a nested Sequential when its own layers are): none keeps its input.</summary>
    private readonly bool _recyclesIntermediates =
        layers.All(l => l is Sequential s ? s._recyclesIntermediates : l.GetType().Assembly == typeof(Sequential).Assembly);

    public override IEnumerable<(string Name, Tensor Value)> NamedParameters() =>
        Layers.SelectMany((l, i) => l.NamedParameters().Prefixed(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    public override IEnumerable<(string Name, Tensor Value)> NamedBuffers() =>
        Layers.SelectMany((l, i) => l.NamedBuffers().Prefixed(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    public override string ToString() => $"Sequential(\n{string.Join("\n", Layers.Select((l, i) => $"  ({i}): {l}"))}\n)";
}
