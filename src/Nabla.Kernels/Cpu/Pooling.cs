using System.Numerics;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// 2-D max and average pooling (PyTorch's <c>MaxPool2d</c> / <c>AvgPool2d</c>, <c>ceil_mode=False</c>,
/// <c>count_include_pad=True</c>) on contiguous NCHW arrays: x [N, C, H, W], y [N, C, OH, OW]. Every method
/// overwrites its output. Planes (one per (n, c)) are independent, so work is split into one run of planes per thread.
/// </summary>
internal static class Pooling
{
    /// <summary>
    /// y = the maximum of each window; padding counts as −∞ and a NaN wins (the last one), as in PyTorch's CPU kernel. argmax[i] receives, for output
    /// element i (counted from 0, in y's order), the in-plane index ih·W + iw of the chosen input; ties keep the first
    /// in row-major window order.
    /// </summary>
    public static void MaxForward<T>(PoolGeometry g, T[] x, int xOff, T[] y, int yOff, int[] argmax, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        g.Validate();
        int oh = g.OutHeight, ow = g.OutWidth, inPlane = g.Height * g.Width, outPlane = oh * ow;
        ForPlanes(g, threads, plane =>
        {
            int xBase = xOff + plane * inPlane, outBase = plane * outPlane;
            for (int i = 0; i < oh; i++)
            {
                // Clamping the window to the input is how padding acts as −∞: padded cells can never win.
                int h0 = Math.Max(i * g.StrideH - g.PadH, 0), h1 = Math.Min(i * g.StrideH - g.PadH + g.KernelH, g.Height);
                for (int j = 0; j < ow; j++)
                {
                    int w0 = Math.Max(j * g.StrideW - g.PadW, 0), w1 = Math.Min(j * g.StrideW - g.PadW + g.KernelW, g.Width);
                    int best = h0 * g.Width + w0;
                    T max = T.NegativeInfinity;
                    for (int h = h0; h < h1; h++)
                    {
                        for (int w = w0; w < w1; w++)
                        {
                            T v = x[xBase + h * g.Width + w];
                            if (v > max || T.IsNaN(v))
                            {
                                max = v;
                                best = h * g.Width + w;
                            }
                        }
                    }
                    y[yOff + outBase + i * ow + j] = max;
                    argmax[outBase + i * ow + j] = best;
                }
            }
        });
    }

    /// <summary>dx = 0, then dx[n, c, argmax] += dy for every output element (overlapping windows accumulate).</summary>
    public static void MaxBackward<T>(PoolGeometry g, T[] dy, int dyOff, int[] argmax, T[] dx, int dxOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        g.Validate();
        int inPlane = g.Height * g.Width, outPlane = g.OutHeight * g.OutWidth;
        ForPlanes(g, threads, plane =>
        {
            Span<T> d = dx.AsSpan(dxOff + plane * inPlane, inPlane);
            d.Clear();
            int outBase = plane * outPlane;
            for (int i = 0; i < outPlane; i++) d[argmax[outBase + i]] += dy[dyOff + outBase + i];
        });
    }

    /// <summary>y = the mean of each window, padded cells counted as zeros (divisor KH·KW).</summary>
    public static void AvgForward<T>(PoolGeometry g, T[] x, int xOff, T[] y, int yOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        g.Validate();
        int oh = g.OutHeight, ow = g.OutWidth, inPlane = g.Height * g.Width, outPlane = oh * ow;
        T scale = T.One / T.CreateTruncating(g.KernelH * g.KernelW);
        ForPlanes(g, threads, plane =>
        {
            int xBase = xOff + plane * inPlane, yBase = yOff + plane * outPlane;
            for (int i = 0; i < oh; i++)
            {
                int h0 = Math.Max(i * g.StrideH - g.PadH, 0), h1 = Math.Min(i * g.StrideH - g.PadH + g.KernelH, g.Height);
                for (int j = 0; j < ow; j++)
                {
                    int w0 = Math.Max(j * g.StrideW - g.PadW, 0), w1 = Math.Min(j * g.StrideW - g.PadW + g.KernelW, g.Width);
                    T sum = T.Zero;
                    for (int h = h0; h < h1; h++)
                        for (int w = w0; w < w1; w++)
                            sum += x[xBase + h * g.Width + w];
                    y[yBase + i * ow + j] = sum * scale;
                }
            }
        });
    }

    /// <summary>dx = 0, then every output's dy / (KH·KW) is added to each real input cell of its window.</summary>
    public static void AvgBackward<T>(PoolGeometry g, T[] dy, int dyOff, T[] dx, int dxOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        g.Validate();
        int oh = g.OutHeight, ow = g.OutWidth, inPlane = g.Height * g.Width, outPlane = oh * ow;
        T scale = T.One / T.CreateTruncating(g.KernelH * g.KernelW);
        ForPlanes(g, threads, plane =>
        {
            Span<T> d = dx.AsSpan(dxOff + plane * inPlane, inPlane);
            d.Clear();
            int dyBase = dyOff + plane * outPlane;
            for (int i = 0; i < oh; i++)
            {
                int h0 = Math.Max(i * g.StrideH - g.PadH, 0), h1 = Math.Min(i * g.StrideH - g.PadH + g.KernelH, g.Height);
                for (int j = 0; j < ow; j++)
                {
                    int w0 = Math.Max(j * g.StrideW - g.PadW, 0), w1 = Math.Min(j * g.StrideW - g.PadW + g.KernelW, g.Width);
                    T share = dy[dyBase + i * ow + j] * scale;
                    for (int h = h0; h < h1; h++)
                        for (int w = w0; w < w1; w++)
                            d[h * g.Width + w] += share;
                }
            }
        });
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
}
