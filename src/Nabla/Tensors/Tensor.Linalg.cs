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

    /// <summary>Inner product of two 1-D tensors.</summary>
    public Tensor Dot(Tensor other)
    {
        if (Rank != 1 || other.Rank != 1 || Count != other.Count)
            throw new ArgumentException($"Dot: expected two 1-D tensors of equal length, got {ShapeString(Shape)} and {ShapeString(other.Shape)}");
        return MatMul(other);
    }
}
