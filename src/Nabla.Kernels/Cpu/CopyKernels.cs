using System.Numerics;

namespace Nabla.Kernels.Cpu;

/// <summary>Strided copies (making views contiguous), dtype conversions, gather, index-select and scatter-add.</summary>
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

    /// <summary>
    /// dst = the slices of src at <paramref name="index"/> along <paramref name="axis"/> (index_select), dst contiguous
    /// from <paramref name="dstOffset"/>. Every index is checked before anything is written. Seen as
    /// [outer, size, inner], each picked slice is one contiguous copy of inner elements: a batch of examples gathered
    /// from a data set is 64 rows of 784 floats, not the 50 176 single-element reads of <see cref="Gather{T}"/>.
    /// </summary>
    public static void IndexSelect<T>(T[] src, Layout sl, long[] index, Layout il, int axis, T[] dst, int dstOffset, int threads) where T : unmanaged
    {
        var selection = Selection<T>.Of(src, sl, index, il, axis);
        int slices = selection.Slices;
        if (slices == 0) return;
        int parts = slices * selection.SliceBytes >= IndexSelectSplitBytes ? Math.Min(threads, slices) : 1;
        if (parts <= 1) selection.Copy(dst, dstOffset, 0, slices);
        else SplitCopy(selection, dst, dstOffset, parts);
    }

    // Apart so that only a split copy allocates the lambda's closure (the compiler makes it on entry to the method
    // that declares what it captures, whichever branch runs).
    private static void SplitCopy<T>(Selection<T> selection, T[] dst, int dstOffset, int parts) where T : unmanaged
    {
        int slices = selection.Slices;
        CpuParallel.For(parts, parts, t => selection.Copy(dst, dstOffset, (int)((long)slices * t / parts), (int)((long)slices * (t + 1) / parts)));
    }

    /// <summary>
    /// <see cref="IndexSelect{T}"/> deferred (<see cref="CpuParallel.Defer"/>): the index is checked here, the copies
    /// are cut into pieces of about <see cref="DeferredPieceBytes"/> for the helpers' idle time. <paramref name="keepAlive"/>
    /// (the storage of dst) is held until the copies are done.
    /// </summary>
    public static IPending BeginIndexSelect<T>(T[] src, Layout sl, long[] index, Layout il, int axis, T[] dst, int dstOffset, int threads, object keepAlive) where T : unmanaged
    {
        var selection = Selection<T>.Of(src, sl, index, il, axis);
        int slices = selection.Slices;
        if (slices == 0) return CpuParallel.Completed;
        int perPiece = (int)Math.Clamp(DeferredPieceBytes / selection.SliceBytes, 1, slices);
        int pieces = (slices + perPiece - 1) / perPiece;
        return CpuParallel.Defer(pieces, threads, p =>
        {
            GC.KeepAlive(keepAlive);
            selection.Copy(dst, dstOffset, p * perPiece, Math.Min(slices, (p + 1) * perPiece));
        });
    }

    /// <summary>
    /// Bytes copied by one piece of a deferred index-select: a 28×28 float image is 3 KB, a fraction of a microsecond
    /// to fetch from memory, so a product posted meanwhile waits that long at most for the helper.
    /// </summary>
    private const long DeferredPieceBytes = 4096;

    /// <summary>
    /// From this many bytes an index-select is split over the threads. Picked rows of a large data set come from
    /// memory, each at a fresh address: the time goes to waiting for them, which two cores do side by side. A batch of
    /// 64 Fashion-MNIST images (196 KB) from the DataLoader on Zen 3: 31–33 → 19–20 µs. Prefetching the next rows'
    /// lines while copying one was tried as well and made no difference there.
    /// </summary>
    private const long IndexSelectSplitBytes = 64 * 1024;

    /// <summary>
    /// An index-select checked and ready to copy, the source seen as [outer, size, inner]: slice s = (o, i) of dst is
    /// source slice (o, picks[i]), one contiguous copy of inner elements.
    /// </summary>
    private readonly struct Selection<T>(T[] src, int srcOffset, int[] picks, int size, int inner, int slices) where T : unmanaged
    {
        /// <summary>Slices to copy; 0 when the result is empty.</summary>
        public int Slices => slices;

        public long SliceBytes => (long)inner * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();

        /// <summary>Checks every index before anything is written; a strided source (rare: a transposed or sliced view) is made dense once, as the copies need whole slices.</summary>
        public static Selection<T> Of(T[] src, Layout sl, long[] index, Layout il, int axis)
        {
            int size = sl.Shape[axis], count = il.Shape[0];
            var picks = new int[count];
            for (int i = 0; i < count; i++)
            {
                long k = index[il.Offset + i * il.Strides[0]];
                if (k < 0 || k >= size) throw new IndexOutOfRangeException($"IndexSelect: index {k} is out of bounds for dimension {axis} with size {size}");
                picks[i] = (int)k;
            }
            if (!sl.IsContiguous)
            {
                var dense = new T[sl.Count];
                CopyKernels.Copy(src, sl, dense, Layout.Contiguous(sl.Shape));
                (src, sl) = (dense, Layout.Contiguous(sl.Shape));
            }
            var (outer, inner) = Strides.AroundAxis(sl.Shape, axis);
            return new Selection<T>(src, sl.Offset, picks, size, inner, inner == 0 ? 0 : outer * count);
        }

        /// <summary>Slices [s0, s1) into dst, whose slice 0 starts at <paramref name="dstOffset"/>.</summary>
        public void Copy(T[] dst, int dstOffset, int s0, int s1)
        {
            int count = picks.Length;
            for (int s = s0; s < s1; s++)
            {
                int o = s / count, i = s - o * count;
                src.AsSpan(srcOffset + (o * size + picks[i]) * inner, inner).CopyTo(dst.AsSpan(dstOffset + s * inner, inner));
            }
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
