namespace Nabla;

public sealed partial class Tensor
{
    /// <summary>
    /// Matrix product with PyTorch's rules: 1-D·1-D is a dot product, a 1-D operand is treated as a row (left) or
    /// column (right) vector and that dimension is removed again, and batch dimensions broadcast.
    /// </summary>
    public Tensor MatMul(Tensor other)
    {
        if (Rank == 0 || other.Rank == 0)
            throw new ArgumentException($"MatMul: both operands need at least one dimension, got {ShapeString(Shape)} and {ShapeString(other.Shape)}");
        var a = Rank == 1 ? Unsqueeze(0) : this;
        var b = other.Rank == 1 ? other.Unsqueeze(1) : other;
        if (a.Shape[^1] != b.Shape[^2])
            throw new ArgumentException($"MatMul: cannot multiply {ShapeString(Shape)} by {ShapeString(other.Shape)}: inner dimensions {a.Shape[^1]} and {b.Shape[^2]} differ");
        var y = Primitives.MatMul.Apply(a, b);
        if (other.Rank == 1) y = y.Squeeze(-1);
        if (Rank == 1) y = y.Squeeze(other.Rank == 1 ? 0 : -2);
        return y;
    }

    /// <summary>
    /// x·Wᵀ + b (PyTorch's <c>F.linear</c>): this [*, in], weight [out, in], bias [out] or none → [*, out]. With a bias it
    /// is one primitive, the product accumulated onto the bias (see <see cref="Primitives.Linear"/>); leading dimensions
    /// are flattened into rows for it and restored after.
    /// </summary>
    public Tensor Linear(Tensor weight, Tensor? bias = null) => LinearCore(weight, bias, relu: false);

    /// <summary>max(x·Wᵀ + b, 0): the product and the ReLU in one pass and one graph node (see <see cref="Nn.Sequential.Forward"/>).</summary>
    internal Tensor LinearRelu(Tensor weight, Tensor bias) => LinearCore(weight, bias, relu: true);

    private Tensor LinearCore(Tensor weight, Tensor? bias, bool relu)
    {
        if (weight.Rank != 2)
            throw new ArgumentException($"Linear: weight must be [out, in], got {ShapeString(weight.Shape)}");
        if (Rank == 0 || Shape[^1] != weight.Shape[1])
            throw new ArgumentException($"Linear: expected input [*, {weight.Shape[1]}] for weight {ShapeString(weight.Shape)}, got {ShapeString(Shape)}");
        if (bias is not null && (bias.Rank != 1 || bias.Count != weight.Shape[0]))
            throw new ArgumentException($"Linear: bias must be [{weight.Shape[0]}], got {ShapeString(bias.Shape)}");
        if (bias is null) return relu ? MatMul(weight.T).Relu() : MatMul(weight.T);
        CheckSameDevice(weight, "Linear");
        CheckSameDevice(bias, "Linear");
        if (weight.DType != DType || bias.DType != DType)
            throw new ArgumentException($"Linear: input, weight and bias dtypes differ ({DType}, {weight.DType}, {bias.DType}); convert with To()");
        var rows = Rank == 2 ? this : Reshape(-1, Shape[^1]);
        var y = relu ? Primitives.Linear.ApplyRelu(rows, weight, bias) : Primitives.Linear.Apply(rows, weight, bias);
        return Rank == 2 ? y : y.Reshape([.. Shape[..^1], weight.Shape[0]]);
    }

    /// <summary>Inner product of two 1-D tensors.</summary>
    public Tensor Dot(Tensor other)
    {
        if (Rank != 1 || other.Rank != 1 || Count != other.Count)
            throw new ArgumentException($"Dot: expected two 1-D tensors of equal length, got {ShapeString(Shape)} and {ShapeString(other.Shape)}");
        return MatMul(other);
    }
}
