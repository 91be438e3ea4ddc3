namespace Nabla.Kernels;

/// <summary>
/// How a tensor's elements sit in its storage: element (i₀,…,iₙ₋₁) lives at Offset + Σ iₖ·Strides[k].
/// A stride of 0 repeats an element (broadcasting); views (reshape, permute, slice, expand) only build new layouts.
/// </summary>
public sealed class Layout
{
    public Layout(int[] shape, int[] strides, int offset)
    {
        Shape = shape;
        Strides = strides;
        Offset = offset;
        int n = 1;
        for (int i = 0; i < shape.Length; i++) n *= shape[i];
        Count = n;
        IsContiguous = ComputeContiguous(shape, strides);
    }

    public int[] Shape { get; }

    public int[] Strides { get; }

    public int Offset { get; }

    /// <summary>Number of elements (product of the shape; 1 for a scalar).</summary>
    public int Count { get; }

    public int Rank => Shape.Length;

    /// <summary>True when the elements are stored densely in row-major order starting at <see cref="Offset"/>.</summary>
    public bool IsContiguous { get; }

    public static Layout Contiguous(int[] shape) => new(shape, ContiguousStrides(shape), 0);

    public static int[] ContiguousStrides(int[] shape)
    {
        var strides = new int[shape.Length];
        int s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= Math.Max(shape[i], 1);
        }
        return strides;
    }

    private static bool ComputeContiguous(int[] shape, int[] strides)
    {
        int expected = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] == 1) continue;      // the stride of a size-1 dimension never matters
            if (strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    public override string ToString() => $"[{string.Join(", ", Shape)}] strides [{string.Join(", ", Strides)}] offset {Offset}";
}
