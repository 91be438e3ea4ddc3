namespace Nabla.Nn;

/// <summary>Applies its layers in order. Parameters are named by position, as in PyTorch ("0.weight", "2.bias").</summary>
public sealed class Sequential(params Module[] layers) : Module
{
    public IReadOnlyList<Module> Layers { get; } = layers;

    public override Tensor Forward(Tensor x, Mode mode)
    {
        foreach (var layer in Layers) x = layer.Forward(x, mode);
        return x;
    }

    public override IEnumerable<(string Name, Tensor Value)> NamedParameters() =>
        Layers.SelectMany((l, i) => l.NamedParameters().Prefixed(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    public override IEnumerable<(string Name, Tensor Value)> NamedBuffers() =>
        Layers.SelectMany((l, i) => l.NamedBuffers().Prefixed(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    public override string ToString() => $"Sequential(\n{string.Join("\n", Layers.Select((l, i) => $"  ({i}): {l}"))}\n)";
}
