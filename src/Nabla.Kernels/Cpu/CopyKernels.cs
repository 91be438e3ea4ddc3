using System.Numerics;

namespace Nabla.Kernels.Cpu;

/// <summary>Strided copies (making views contiguous), dtype conversions, gather and scatter-add.</summary>
internal static class CopyKernels
{
    public static void Copy<T>(T[] src, Layout sl, T[] dst, Layout dl) where T : unmanaged
    {
        int n = dl.Count;
        if (n == 0) return;
        if (sl.IsContiguous && dl.IsContiguous)
        {
            src.AsSpan(sl.Offset, n).CopyTo(dst.AsSpan(dl.Offset, n));
            return;
        }
        var (shape, s) = Strides.Coalesce(dl.Shape, sl.Strides, dl.Strides);
        int len = shape[^1], ss = s[0][^1], sd = s[1][^1];
        var cursor = new Odometer(shape, s[0], sl.Offset, s[1], dl.Offset);
        int rows = Strides.RowCount(shape);
        for (int r = 0; r < rows; r++, cursor.NextRow())
        {
            if (ss == 1 && sd == 1) src.AsSpan(cursor.A, len).CopyTo(dst.AsSpan(cursor.B, len));
            else if (ss == 0 && sd == 1) dst.AsSpan(cursor.B, len).Fill(src[cursor.A]);
            else
                for (int i = 0, a = cursor.A, b = cursor.B; i < len; i++, a += ss, b += sd) dst[b] = src[a];
        }
    }

    /// <summary>Copies with a dtype conversion: floats to integers truncate toward zero, anything to bool tests ≠ 0.</summary>
    public static void Convert<TFrom, TTo>(TFrom[] src, Layout sl, TTo[] dst, Layout dl, bool toBool)
        where TFrom : unmanaged, INumber<TFrom>
        where TTo : unmanaged, INumber<TTo>
    {
        if (dl.Count == 0) return;
        var (shape, s) = Strides.Coalesce(dl.Shape, sl.Strides, dl.Strides);
        int len = shape[^1], ss = s[0][^1], sd = s[1][^1];
        var cursor = new Odometer(shape, s[0], sl.Offset, s[1], dl.Offset);
        int rows = Strides.RowCount(shape);
        for (int r = 0; r < rows; r++, cursor.NextRow())
            for (int i = 0, a = cursor.A, b = cursor.B; i < len; i++, a += ss, b += sd)
                dst[b] = toBool ? (src[a] != TFrom.Zero ? TTo.One : TTo.Zero) : TTo.CreateTruncating(src[a]);
    }

    public static void Gather<T>(T[] src, Layout sl, long[] index, Layout il, int axis, T[] dst) where T : unmanaged
    {
        int n = dst.Length;
        if (n == 0) return;
        int[] shape = il.Shape;
        int rank = shape.Length, limit = sl.Shape[axis];
        var idx = new int[rank];
        for (int o = 0; o < n; o++)
        {
            int io = il.Offset, so = sl.Offset;
            for (int d = 0; d < rank; d++)
            {
                io += idx[d] * il.Strides[d];
                if (d != axis) so += idx[d] * sl.Strides[d];
            }
            long k = index[io];
            if (k < 0 || k >= limit) throw new IndexOutOfRangeException($"Gather: index {k} is out of bounds for dimension {axis} with size {limit}");
            dst[o] = src[so + (int)k * sl.Strides[axis]];
            Increment(idx, shape);
        }
    }

    public static void ScatterAdd<T>(T[] src, Layout sl, long[] index, Layout il, int axis, T[] dst, Layout dl) where T : unmanaged, INumber<T>
    {
        int[] shape = il.Shape;
        int rank = shape.Length, limit = dl.Shape[axis], n = il.Count;
        var idx = new int[rank];
        for (int o = 0; o < n; o++)
        {
            int io = il.Offset, so = sl.Offset, d0 = dl.Offset;
            for (int d = 0; d < rank; d++)
            {
                io += idx[d] * il.Strides[d];
                so += idx[d] * sl.Strides[d];
                if (d != axis) d0 += idx[d] * dl.Strides[d];
            }
            long k = index[io];
            if (k < 0 || k >= limit) throw new IndexOutOfRangeException($"ScatterAdd: index {k} is out of bounds for dimension {axis} with size {limit}");
            dst[d0 + (int)k * dl.Strides[axis]] += src[so];
            Increment(idx, shape);
        }
    }

    private static void Increment(int[] idx, int[] shape)
    {
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            if (++idx[d] < shape[d]) return;
            idx[d] = 0;
        }
    }
}
