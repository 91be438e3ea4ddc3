using Nabla.Kernels;

namespace Nabla.Nn;

/// <summary>
/// y = x·Wᵀ + b (002 Def 4.1.2 with A = W). Weight [out, in] and bias [out] start as PyTorch's:
/// U(−1/√in, 1/√in).
/// Shapes: x [*, in] → y [*, out].
/// </summary>
public sealed class Linear : Module
{
    public Linear(int inFeatures, int outFeatures, Generator generator, bool bias = true, DType dtype = DType.Float32)
    {
        if (inFeatures <= 0 || outFeatures <= 0)
            throw new ArgumentException($"Linear: feature counts must be positive, got in={inFeatures}, out={outFeatures}");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = Init.KaimingUniform([outFeatures, inFeatures], generator, a: Math.Sqrt(5), dtype);
        double bound = 1 / Math.Sqrt(inFeatures);
        Bias = bias ? Init.Uniform([outFeatures], -bound, bound, generator, dtype) : null;
    }

    /// <summary>Builds a layer from given values (e.g. the matrices of 002 Example 4.2.1); they become trainable leaves.</summary>
    public Linear(Tensor weight, Tensor? bias)
    {
        if (weight.Rank != 2) throw new ArgumentException($"Linear: weight must be [out, in], got {Tensor.ShapeString(weight.Shape)}");
        if (bias is not null && (bias.Rank != 1 || bias.Count != weight.Shape[0]))
            throw new ArgumentException($"Linear: bias must be [{weight.Shape[0]}], got {Tensor.ShapeString(bias.Shape)}");
        (OutFeatures, InFeatures) = (weight.Shape[0], weight.Shape[1]);
        Weight = weight.Detach().RequireGrad();
        Bias = bias?.Detach().RequireGrad();
    }

    public int InFeatures { get; }

    public int OutFeatures { get; }

    public Tensor Weight { get; }

    public Tensor? Bias { get; }

    /// <remarks>A wrong input width is reported by <see cref="Tensor.Linear"/>, with the weight's shape.</remarks>
    public override Tensor Forward(Tensor x, Mode mode) => x.Linear(Weight, Bias);

    /// <summary>
    /// relu(Forward(x)) as one product that rectifies as it goes (see <see cref="Primitives.Linear"/>); without a bias,
    /// the two ops. For <see cref="Sequential"/>, which calls it for a Linear followed by a ReLU.
    /// </summary>
    internal Tensor ForwardRelu(Tensor x, Mode mode) => Bias is null ? Forward(x, mode).Relu() : x.LinearRelu(Weight, Bias);

    public override IEnumerable<(string Name, Tensor Value)> NamedParameters()
    {
        yield return ("weight", Weight);
        if (Bias is not null) yield return ("bias", Bias);
    }

    public override string ToString() => $"Linear(in_features={InFeatures}, out_features={OutFeatures}, bias={Bias is not null})";
}
