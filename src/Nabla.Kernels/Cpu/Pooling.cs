using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// 2-D max and average pooling (PyTorch's <c>MaxPool2d</c> / <c>AvgPool2d</c>, <c>ceil_mode=False</c>,
/// <c>count_include_pad=True</c>) on contiguous NCHW arrays: x [N, C, H, W], y [N, C, OH, OW], each from its offset.
/// Every method overwrites its output. Planes (one per (n, c)) are independent, so work is split into one run of planes
/// per thread, and each plane is handled by a plain loop over its windows.
/// </summary>
internal static class Pooling
{
    /// <summary>
    /// y = the maximum of each window; padding counts as −∞ and a NaN wins (the last one), as in PyTorch's CPU kernel.
    /// argmax[i] receives, for output element i (counted from 0, in y's order), the in-plane index ih·W + iw of the
    /// chosen input; ties keep the first in row-major window order. A null <paramref name="argmax"/> stores no winners
    /// (inference).
    /// </summary>
    public static void MaxForward<T>(PoolGeometry g, T[] x, int xOff, T[] y, int yOff, int[]? argmax, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        g.Validate();
        CheckLength(x, xOff, InputSize(g), "x");
        CheckLength(y, yOff, OutputSize(g), "y");
        if (argmax is not null) CheckLength(argmax, 0, OutputSize(g), "argmax");
        int inPlane = g.Height * g.Width, outPlane = g.OutHeight * g.OutWidth;
        bool twoByTwo = g is { KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, PadH: 0, PadW: 0 };
        ForPlanes(g, threads, plane =>
        {
            var xp = x.AsSpan(xOff + plane * inPlane, inPlane);
            var yp = y.AsSpan(yOff + plane * outPlane, outPlane);
            var ap = argmax is null ? default : argmax.AsSpan(plane * outPlane, outPlane);
            if (twoByTwo) MaxPlane2x2(g, xp, yp, ap);
            else MaxPlane(g, xp, yp, ap);
        });
    }

    /// <summary>dx = 0, then dx[n, c, argmax] += dy for every output element (overlapping windows accumulate).</summary>
    public static void MaxBackward<T>(PoolGeometry g, T[] dy, int dyOff, int[] argmax, T[] dx, int dxOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        g.Validate();
        CheckLength(dy, dyOff, OutputSize(g), "dy");
        CheckLength(argmax, 0, OutputSize(g), "argmax");
        CheckLength(dx, dxOff, InputSize(g), "dx");
        int inPlane = g.Height * g.Width, outPlane = g.OutHeight * g.OutWidth;
        if (typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated
            && g is { KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, PadH: 0, PadW: 0 } && g.Height % 2 == 0 && g.Width % 2 == 0
            && g.OutWidth >= 8)
        {
            // Below 8 windows a row the clear-and-scatter loop below was faster (measured on LeNet's 7-wide rows).
            float[] dyf = (float[])(object)dy, dxf = (float[])(object)dx;
            ForPlanes(g, threads, plane =>
            {
                unsafe
                {
                    fixed (float* d = dxf, grad = dyf)
                    fixed (int* from = argmax)
                        MaxBackwardPlane2x2(g, grad + dyOff + plane * outPlane, from + plane * outPlane, d + dxOff + plane * inPlane);
                }
            });
            return;
        }
        ForPlanes(g, threads, plane =>
        {
            Span<T> d = dx.AsSpan(dxOff + plane * inPlane, inPlane);
            ReadOnlySpan<T> grad = dy.AsSpan(dyOff + plane * outPlane, outPlane);
            ReadOnlySpan<int> from = argmax.AsSpan(plane * outPlane, outPlane);
            d.Clear();
            for (int i = 0; i < grad.Length; i++) d[from[i]] += grad[i];
        });
    }

    /// <summary>y = the mean of each window, padded cells counted as zeros (divisor KH·KW).</summary>
    public static void AvgForward<T>(PoolGeometry g, T[] x, int xOff, T[] y, int yOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        g.Validate();
        CheckLength(x, xOff, InputSize(g), "x");
        CheckLength(y, yOff, OutputSize(g), "y");
        int inPlane = g.Height * g.Width, outPlane = g.OutHeight * g.OutWidth;
        ForPlanes(g, threads, plane => AvgPlane(g, x.AsSpan(xOff + plane * inPlane, inPlane), y.AsSpan(yOff + plane * outPlane, outPlane)));
    }

    /// <summary>dx = 0, then every output's dy / (KH·KW) is added to each real input cell of its window.</summary>
    public static void AvgBackward<T>(PoolGeometry g, T[] dy, int dyOff, T[] dx, int dxOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        g.Validate();
        CheckLength(dy, dyOff, OutputSize(g), "dy");
        CheckLength(dx, dxOff, InputSize(g), "dx");
        int inPlane = g.Height * g.Width, outPlane = g.OutHeight * g.OutWidth;
        ForPlanes(g, threads, plane => AvgPlaneBackward(g, dy.AsSpan(dyOff + plane * outPlane, outPlane), dx.AsSpan(dxOff + plane * inPlane, inPlane)));
    }

    private static void MaxPlane<T>(in PoolGeometry g, ReadOnlySpan<T> x, Span<T> y, Span<int> argmax)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int width = g.Width, outWidth = g.OutWidth;
        for (int i = 0; i < g.OutHeight; i++)
        {
            // Clamping the window to the input is how padding acts as −∞: padded cells can never win.
            int h0 = Math.Max(i * g.StrideH - g.PadH, 0), h1 = Math.Min(i * g.StrideH - g.PadH + g.KernelH, g.Height);
            for (int j = 0; j < outWidth; j++)
            {
                int w0 = Math.Max(j * g.StrideW - g.PadW, 0), w1 = Math.Min(j * g.StrideW - g.PadW + g.KernelW, width);
                int best = h0 * width + w0;
                T max = T.NegativeInfinity;
                for (int h = h0; h < h1; h++)
                {
                    for (int at = h * width + w0, end = h * width + w1; at < end; at++)
                    {
                        // Which cell wins is data-dependent, so this is written without branches, which would
                        // mispredict: T.Max and a bit mask (all ones when taking). T.Max propagates NaN like the
                        // comparison does, and may differ from the winner only in the sign of a zero, so the value
                        // stored is read back from the winning cell.
                        T v = x[at];
                        int take = -Unsafe.BitCast<bool, byte>((v > max) | T.IsNaN(v));
                        best = (at & take) | (best & ~take);
                        max = T.Max(max, v);
                    }
                }
                y[i * outWidth + j] = x[best];
                if (!argmax.IsEmpty) argmax[i * outWidth + j] = best;
            }
        }
    }

    /// <summary>
    /// <see cref="MaxPlane{T}"/> for the common 2×2 window with stride 2 and no padding (every window lies inside the
    /// input), unrolled: the same comparisons in the same row-major order, without the window loops.
    /// </summary>
    private static unsafe void MaxPlane2x2<T>(in PoolGeometry g, ReadOnlySpan<T> x, Span<T> y, Span<int> argmax)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int width = g.Width, outWidth = g.OutWidth, inPlane = x.Length, outPlane = y.Length;
        if (typeof(T) == typeof(float) && (Vector512.IsHardwareAccelerated || Avx2.IsSupported))
        {
            fixed (T* xp = x, yp = y)
            fixed (int* ap = argmax)
            {
                for (int i = 0; i < g.OutHeight; i++)
                {
                    int top = 2 * i * width, row = i * outWidth;
                    // 8 outputs at a time; a last, overlapping group ends the row (it recomputes the same values). A row
                    // of fewer than 8 is one group of 8 too while that stays inside the plane: the extra windows read
                    // the next input rows' first cells and write the next output rows' first values, which those rows
                    // then overwrite. The rows near the plane's end (whose extra windows would leave it, maybe into
                    // another thread's plane) are masked: masked loads and stores are slow on AMD, and LeNet's 7-wide
                    // second pooling took 11.6 → 7.5 µs on one thread (Zen 3, batch 1).
                    if (outWidth < 8)
                    {
                        bool inside = row + 8 <= outPlane && top + width + 16 <= inPlane;
                        MaxRow8((float*)xp, top, width, (float*)yp + row, ap == null ? null : ap + row, inside ? 8 : outWidth);
                        continue;
                    }
                    for (int j = 0; ; j += 8)
                    {
                        j = Math.Min(j, outWidth - 8);
                        MaxRow8((float*)xp, top + 2 * j, width, (float*)yp + row + j, ap == null ? null : ap + row + j, 8);
                        if (j == outWidth - 8) break;
                    }
                }
            }
            return;
        }
        for (int i = 0; i < g.OutHeight; i++)
        {
            int top = 2 * i * width, bottom = top + width, row = i * outWidth;
            for (int j = 0; j < outWidth; j++)
            {
                int at = top + 2 * j, below = bottom + 2 * j;
                T max = x[at];
                int best = at;
                Consider(x, at + 1, ref max, ref best);
                Consider(x, below, ref max, ref best);
                Consider(x, below + 1, ref max, ref best);
                y[row + j] = x[best];
                if (!argmax.IsEmpty) argmax[row + j] = best;
            }
        }
    }

    /// <summary>
    /// <paramref name="count"/> (at most 8) 2×2 windows side by side, starting at cell <paramref name="at"/>: each row
    /// segment of 2·count floats is split into its even and odd columns, and the four candidates are taken in row-major
    /// order with the scalar rule (strictly greater, or NaN), lane by lane. Masked loads and stores keep a short group
    /// inside its row.
    /// </summary>
    private static unsafe void MaxRow8(float* x, int at, int width, float* y, int* argmax, int count)
    {
        bool whole = count == 8;
        var (topEven, topOdd) = EvenOdd(x + at, count);
        var (bottomEven, bottomOdd) = EvenOdd(x + at + width, count);
        var index = Vector256.Create(at) + Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
        var max = topEven;
        var best = index;
        Take(topOdd, index + Vector256<int>.One, ref max, ref best);
        Take(bottomEven, index + Vector256.Create(width), ref max, ref best);
        Take(bottomOdd, index + Vector256.Create(width + 1), ref max, ref best);
        if (whole)
        {
            max.Store(y);
            if (argmax != null) best.Store(argmax);
        }
        else
        {
            var keep = Lanes256.TailMask<float>(count);
            Lanes256.StoreLanes(y, max, keep);
            if (argmax != null) Avx2.MaskStore(argmax, keep.AsInt32(), best);
        }

        // The even and odd columns of the 2·count floats at p (lanes past count are unspecified), in two small bodies
        // so that the JIT, which folds the hardware test, inlines the one it keeps.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static (Vector256<float> Even, Vector256<float> Odd) EvenOdd(float* p, int count)
            => Vector512.IsHardwareAccelerated ? EvenOdd512(p, count) : EvenOdd256(p, count);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static (Vector256<float> Even, Vector256<float> Odd) EvenOdd512(float* p, int count)
        {
            var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 0, 0, 0, 0, 0, 0, 0, 0);
            var odd = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 0, 0, 0, 0, 0, 0, 0, 0);
            var v = count == 8 ? Vector512.Load(p) : Lanes512.LoadLanes(p, Lanes512.TailMask<float>(2 * count));
            return (Vector512.Shuffle(v, even).GetLower(), Vector512.Shuffle(v, odd).GetLower());
        }

        // AVX2: shufps picks lanes 0, 2 (or 1, 3) of each 128-bit quarter of a and b, giving [a0 a2 b0 b2 | a4 a6 b4 b6];
        // swapping the middle 64-bit pairs puts them in order.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static (Vector256<float> Even, Vector256<float> Odd) EvenOdd256(float* p, int count)
        {
            Vector256<float> a, b;
            if (count == 8)
            {
                a = Vector256.Load(p);
                b = Vector256.Load(p + 8);
            }
            else
            {
                a = Lanes256.LoadLanes(p, Lanes256.TailMask<float>(2 * count));
                b = Lanes256.LoadLanes(p + 8, Lanes256.TailMask<float>(2 * count - 8));
            }
            return (Avx2.Permute4x64(Avx.Shuffle(a, b, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle(),
                    Avx2.Permute4x64(Avx.Shuffle(a, b, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle());
        }

        static void Take(Vector256<float> v, Vector256<int> at, ref Vector256<float> max, ref Vector256<int> best)
        {
            var take = Vector256.GreaterThan(v, max) | ~Vector256.Equals(v, v);
            max = Vector256.ConditionalSelect(take, v, max);
            best = Vector256.ConditionalSelect(take.AsInt32(), at, best);
        }
    }

    /// <summary>
    /// The max-pooling gradient of one plane for 2×2 windows of stride 2 that tile it exactly (even height and width):
    /// every input cell belongs to one window, so each is written once, dy where it was its window's winner and 0
    /// elsewhere, 8 windows (two 16-float row segments) at a time, with no clearing pass and no scatter.
    /// </summary>
    private static unsafe void MaxBackwardPlane2x2(in PoolGeometry g, float* dy, int* argmax, float* dx)
    {
        // Lane l of a 16-float segment belongs to window l / 2.
        var pairs = Vector512.Create(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
        int width = g.Width, outWidth = g.OutWidth;
        for (int i = 0; i < g.OutHeight; i++)
        {
            int top = 2 * i * width, row = i * outWidth;
            for (int j = 0; j < outWidth; j += 8)
            {
                int count = Math.Min(8, outWidth - j);
                bool whole = count == 8;
                var keep = Lanes512.TailMask<float>(count);
                var grad = whole ? Vector512.Load(dy + row + j) : Lanes512.LoadLanes(dy + row + j, keep);
                var from = whole ? Vector512.Load(argmax + row + j) : Avx512F.MaskLoad(argmax + row + j, keep.AsInt32(), Vector512<int>.Zero);
                var g2 = Vector512.Shuffle(grad, pairs);
                var from2 = Vector512.Shuffle(from, pairs);
                var cell = Vector512.Create(top + 2 * j) + Vector512<int>.Indices;
                // Adding +0 turns a −0 gradient into +0, as accumulating into a cleared buffer would.
                var up = Vector512.ConditionalSelect(Vector512.Equals(from2, cell).AsSingle(), g2, Vector512<float>.Zero) + Vector512<float>.Zero;
                var down = Vector512.ConditionalSelect(Vector512.Equals(from2, cell + Vector512.Create(width)).AsSingle(), g2, Vector512<float>.Zero) + Vector512<float>.Zero;
                var cells = Lanes512.TailMask<float>(2 * count);
                Lanes512.StoreLanes(dx + top + 2 * j, up, whole, cells);
                Lanes512.StoreLanes(dx + top + width + 2 * j, down, whole, cells);
            }
        }
    }

    /// <summary>Takes cell <paramref name="at"/> when it beats the running maximum or is NaN (see <see cref="MaxPlane{T}"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Consider<T>(ReadOnlySpan<T> x, int at, ref T max, ref int best) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T v = x[at];
        int take = -Unsafe.BitCast<bool, byte>((v > max) | T.IsNaN(v));
        best = (at & take) | (best & ~take);
        max = T.Max(max, v);
    }

    private static void AvgPlane<T>(in PoolGeometry g, ReadOnlySpan<T> x, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int width = g.Width, outWidth = g.OutWidth;
        T scale = T.One / T.CreateTruncating(g.KernelH * g.KernelW);
        for (int i = 0; i < g.OutHeight; i++)
        {
            int h0 = Math.Max(i * g.StrideH - g.PadH, 0), h1 = Math.Min(i * g.StrideH - g.PadH + g.KernelH, g.Height);
            for (int j = 0; j < outWidth; j++)
            {
                int w0 = Math.Max(j * g.StrideW - g.PadW, 0), w1 = Math.Min(j * g.StrideW - g.PadW + g.KernelW, width);
                T sum = T.Zero;
                for (int h = h0; h < h1; h++)
                    for (int at = h * width + w0, end = h * width + w1; at < end; at++)
                        sum += x[at];
                y[i * outWidth + j] = sum * scale;
            }
        }
    }

    private static void AvgPlaneBackward<T>(in PoolGeometry g, ReadOnlySpan<T> dy, Span<T> dx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int width = g.Width, outWidth = g.OutWidth;
        T scale = T.One / T.CreateTruncating(g.KernelH * g.KernelW);
        dx.Clear();
        for (int i = 0; i < g.OutHeight; i++)
        {
            int h0 = Math.Max(i * g.StrideH - g.PadH, 0), h1 = Math.Min(i * g.StrideH - g.PadH + g.KernelH, g.Height);
            for (int j = 0; j < outWidth; j++)
            {
                int w0 = Math.Max(j * g.StrideW - g.PadW, 0), w1 = Math.Min(j * g.StrideW - g.PadW + g.KernelW, width);
                T share = dy[i * outWidth + j] * scale;
                for (int h = h0; h < h1; h++)
                    for (int at = h * width + w0, end = h * width + w1; at < end; at++)
                        dx[at] += share;
            }
        }
    }

    /// <summary>Runs <paramref name="body"/> on every (n, c) plane, in one contiguous run of planes per thread.</summary>
    private static void ForPlanes(PoolGeometry g, int threads, Action<int> body)
    {
        int planes = g.Batch * g.Channels;
        int chunks = Math.Max(1, Math.Min(planes, threads));
        CpuParallel.For(chunks, chunks, chunk =>
        {
            int end = (int)((long)(chunk + 1) * planes / chunks);
            for (int plane = (int)((long)chunk * planes / chunks); plane < end; plane++) body(plane);
        });
    }

    private static long InputSize(in PoolGeometry g) => (long)g.Batch * g.Channels * g.Height * g.Width;

    private static long OutputSize(in PoolGeometry g) => (long)g.Batch * g.Channels * g.OutHeight * g.OutWidth;

    private static void CheckLength<T>(T[] a, int offset, long needed, string name)
    {
        if (offset < 0 || offset + needed > a.Length)
            throw new ArgumentException($"Pool2d: {name} needs {needed} elements from offset {offset}, but its array holds {a.Length}.");
    }
}
