namespace Nabla.Kernels.Cpu;

/// <summary>
/// Walks the outer dimensions of up to three strided operands in row-major order, keeping each operand's element
/// offset up to date. The innermost dimension is left to the caller as a "row", which is where SIMD happens.
/// </summary>
internal struct Odometer
{
    private readonly int[] _shape;
    private readonly int[] _sa, _sb, _sc;
    private readonly int[] _index;

    public int A, B, C;

    public Odometer(int[] shape, int[] sa, int offA, int[]? sb = null, int offB = 0, int[]? sc = null, int offC = 0)
    {
        _shape = shape;
        _sa = sa;
        _sb = sb ?? sa;
        _sc = sc ?? sa;
        _index = new int[shape.Length];
        A = offA;
        B = offB;
        C = offC;
    }

    /// <summary>Advances to the next row (all dimensions but the last).</summary>
    public void NextRow()
    {
        for (int d = _shape.Length - 2; d >= 0; d--)
        {
            A += _sa[d];
            B += _sb[d];
            C += _sc[d];
            if (++_index[d] < _shape[d]) return;
            A -= _sa[d] * _shape[d];
            B -= _sb[d] * _shape[d];
            C -= _sc[d] * _shape[d];
            _index[d] = 0;
        }
    }
}

/// <summary>Shape simplification shared by the strided kernels.</summary>
internal static class Strides
{
    /// <summary>
    /// Merges adjacent dimensions that every operand walks as one (stride[i] = stride[i+1]·shape[i+1]) and drops
    /// size-1 dimensions, so a contiguous or broadcast-row operand becomes a short loop over long rows.
    /// Always returns at least one dimension.
    /// </summary>
    public static (int[] Shape, int[][] Strides) Coalesce(int[] shape, params int[][] strides)
    {
        var outShape = new List<int>(shape.Length);
        var outStrides = new List<int>[strides.Length];
        for (int k = 0; k < strides.Length; k++) outStrides[k] = new List<int>(shape.Length);
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1) continue;
            int last = outShape.Count - 1;
            bool merge = last >= 0;
            for (int k = 0; k < strides.Length && merge; k++)
                merge = outStrides[k][last] == strides[k][d] * shape[d];
            if (merge)
            {
                outShape[last] *= shape[d];
                for (int k = 0; k < strides.Length; k++) outStrides[k][last] = strides[k][d];
            }
            else
            {
                outShape.Add(shape[d]);
                for (int k = 0; k < strides.Length; k++) outStrides[k].Add(strides[k][d]);
            }
        }
        if (outShape.Count == 0)
        {
            outShape.Add(1);
            for (int k = 0; k < strides.Length; k++) outStrides[k].Add(1);
        }
        var result = new int[strides.Length][];
        for (int k = 0; k < strides.Length; k++) result[k] = outStrides[k].ToArray();
        return (outShape.ToArray(), result);
    }

    /// <summary>A shape seen as [outer, shape[axis], inner]: the products of the dimensions before and after the axis.</summary>
    public static (int Outer, int Inner) AroundAxis(int[] shape, int axis)
    {
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= shape[d];
        for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
        return (outer, inner);
    }

    public static int RowCount(int[] shape)
    {
        int n = 1;
        for (int d = 0; d < shape.Length - 1; d++) n *= shape[d];
        return n;
    }
}
