using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// log softmax along one axis of a dense tensor seen as [outer, n, inner]: y = x − m − log Σ exp(x − m), with m the
/// maximum along the axis, so every exponent is ≤ 0 and nothing overflows. As in PyTorch, a line holding +∞ or NaN, or
/// only −∞, comes out all NaN (x − m is NaN somewhere in it), and a −∞ among finite values gives −∞.
/// </summary>
internal static class SoftmaxKernels
{
    /// <summary>Outer slabs per parallel task claim: enough that both threads stay busy on uneven slabs.</summary>
    private const int Parts = 64;

    /// <summary>y[o, ·, i] = log softmax of x[o, ·, i]; x and y dense from their offsets, and y may be x itself.</summary>
    public static void LogSoftmax<T>(T[] x, int xo, T[] y, int yo, int outer, int n, int inner, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (outer == 0 || n == 0 || inner == 0) return;
        if ((long)outer * n * inner < Chunks.ParallelThreshold || outer == 1)
        {
            Slabs(x, xo, y, yo, 0, outer, n, inner);
            return;
        }
        SplitSlabs(x, xo, y, yo, outer, n, inner, threads);
    }

    // Apart so that only a split run allocates the lambda's closure (the compiler makes it on entry to the method that
    // declares what it captures, whichever branch runs).
    private static void SplitSlabs<T>(T[] x, int xo, T[] y, int yo, int outer, int n, int inner, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int parts = Math.Min(outer, Parts);
        CpuParallel.For(parts, threads, t => Slabs(x, xo, y, yo, (int)((long)t * outer / parts), (int)((long)(t + 1) * outer / parts), n, inner));
    }

    private static void Slabs<T>(T[] x, int xo, T[] y, int yo, int o0, int o1, int n, int inner)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (inner == 1) Rows(x, xo, y, yo, o0, o1, n);
        else Columns(x, xo, y, yo, o0, o1, n, inner);
    }

    /// <summary>Elements of exponentials made at once by <see cref="Rows"/>: a block of short rows shares one call.</summary>
    private const int RowBlock = 1024;

    /// <summary>
    /// The axis is the last one: each row is contiguous and reduced with whole-vector primitives. The exponentials of a
    /// block of rows are made by one call over the whole block: a classifier's rows are short (10 logits), and a call
    /// per row of them cost more than the arithmetic (Zen 3, [64, 10] forward: 5.1 → 3.0 µs).
    /// </summary>
    private static void Rows<T>(T[] x, int xo, T[] y, int yo, int o0, int o1, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int block = Math.Max(1, RowBlock / n);
        T[] buffer = ArrayPool<T>.Shared.Rent(block * n + 2 * block);
        var shifts = buffer.AsSpan(block * n, block);
        var logSums = buffer.AsSpan(block * n + block, block);
        for (int b0 = o0; b0 < o1; b0 += block)
        {
            int rows = Math.Min(block, o1 - b0);
            var e = buffer.AsSpan(0, rows * n);
            for (int r = 0; r < rows; r++)
            {
                var row = x.AsSpan(xo + (b0 + r) * n, n);
                shifts[r] = n < ShortRow ? Max(row) : TensorPrimitives.Max<T>(row);
                TensorPrimitives.Subtract<T>(row, shifts[r], e.Slice(r * n, n));
            }
            TensorPrimitives.Exp<T>(e, e);
            for (int r = 0; r < rows; r++)
            {
                var er = e.Slice(r * n, n);
                logSums[r] = n < ShortRow ? Sum(er) : TensorPrimitives.Sum<T>(er);
            }
            TensorPrimitives.Log<T>(logSums[..rows], logSums[..rows]);
            for (int r = 0; r < rows; r++)
                TensorPrimitives.Subtract<T>(x.AsSpan(xo + (b0 + r) * n, n), shifts[r] + logSums[r], y.AsSpan(yo + (b0 + r) * n, n));
        }
        ArrayPool<T>.Shared.Return(buffer);
    }

    /// <summary>Rows shorter than this are reduced by plain loops: a library call costs more than a few compares or adds.</summary>
    private const int ShortRow = 16;

    /// <summary>The maximum; NaN when any element is NaN, as TensorPrimitives.Max gives.</summary>
    private static T Max<T>(ReadOnlySpan<T> row) where T : IFloatingPointIeee754<T>
    {
        T m = row[0];
        bool nan = false;
        foreach (T v in row)
        {
            if (v > m) m = v;
            nan |= T.IsNaN(v);
        }
        return nan ? T.NaN : m;
    }

    private static T Sum<T>(ReadOnlySpan<T> row) where T : IFloatingPointIeee754<T>
    {
        T s = T.Zero;
        foreach (T v in row) s += v;
        return s;
    }

    /// <summary>
    /// An inner axis: the n rows of a slab, each <paramref name="inner"/> long, are combined elementwise, so the vectors
    /// run along the contiguous inner dimension instead of striding down the axis.
    /// </summary>
    private static void Columns<T>(T[] x, int xo, T[] y, int yo, int o0, int o1, int n, int inner)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] buffer = ArrayPool<T>.Shared.Rent(3 * inner);
        var shift = buffer.AsSpan(0, inner);
        var lse = buffer.AsSpan(inner, inner);
        var e = buffer.AsSpan(2 * inner, inner);
        int slab = n * inner;
        for (int o = o0; o < o1; o++)
        {
            int b = o * slab;
            x.AsSpan(xo + b, inner).CopyTo(shift);
            for (int j = 1; j < n; j++) TensorPrimitives.Max<T>(shift, x.AsSpan(xo + b + j * inner, inner), shift);
            lse.Clear();
            for (int j = 0; j < n; j++)
            {
                TensorPrimitives.Subtract<T>(x.AsSpan(xo + b + j * inner, inner), shift, e);
                TensorPrimitives.Exp<T>(e, e);
                TensorPrimitives.Add<T>(lse, e, lse);
            }
            TensorPrimitives.Log<T>(lse, lse);
            TensorPrimitives.Add<T>(lse, shift, lse);
            for (int j = 0; j < n; j++) TensorPrimitives.Subtract<T>(x.AsSpan(xo + b + j * inner, inner), lse, y.AsSpan(yo + b + j * inner, inner));
        }
        ArrayPool<T>.Shared.Return(buffer);
    }
}
