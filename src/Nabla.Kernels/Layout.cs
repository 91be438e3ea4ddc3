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
        IsRowMajor = offset == 0 && HasRowMajorStrides(shape, strides);
    }

    public int[] Shape { get; }

    public int[] Strides { get; }

    public int Offset { get; }

    /// <summary>Number of elements (product of the shape; 1 for a scalar).</summary>
    public int Count { get; }

    public int Rank => Shape.Length;

    /// <summary>True when the elements are stored densely in row-major order starting at <see cref="Offset"/>.</summary>
    public bool IsContiguous { get; }

    /// <summary>
    /// Exactly what <see cref="Contiguous(int[])"/> builds for this shape: offset 0 and the row-major strides, size-1
    /// dimensions included. Layouts are immutable, so a fresh tensor of this shape may share this one.
    /// </summary>
    public bool IsRowMajor { get; }

    public static Layout Contiguous(int[] shape) => new(shape, ContiguousStrides(shape), 0);

    /// <summary>The same elements with the axes reordered: axis i of the result is axis <paramref name="dims"/>[i] of this one.</summary>
    public Layout Permute(params int[] dims)
    {
        var shape = new int[dims.Length];
        var strides = new int[dims.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            shape[i] = Shape[dims[i]];
            strides[i] = Strides[dims[i]];
        }
        return new Layout(shape, strides, Offset);
    }

    /// <summary>The row-major layout of <paramref name="shape"/>, reusing <paramref name="like"/> when it already is one (saves two allocations per op).</summary>
    public static Layout Contiguous(int[] shape, Layout like) =>
        like.IsRowMajor && (ReferenceEquals(like.Shape, shape) || like.Shape.AsSpan().SequenceEqual(shape)) ? like : Contiguous(shape);

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

    /// <summary>Whether <paramref name="strides"/> are exactly <see cref="ContiguousStrides"/>(<paramref name="shape"/>), without building them.</summary>
    private static bool HasRowMajorStrides(int[] shape, int[] strides)
    {
        int s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (strides[i] != s) return false;
            s *= Math.Max(shape[i], 1);
        }
        return true;
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
