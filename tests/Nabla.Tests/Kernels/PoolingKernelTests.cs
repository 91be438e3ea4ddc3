using System.Numerics;
using Nabla.Kernels;
using Nabla.Kernels.Cpu;
using Xunit;

namespace Nabla.Tests.Kernels;

/// <summary>The pooling kernels against naive window loops written here, plus hand-worked examples of PyTorch's conventions.</summary>
public class PoolingKernelTests
{
    private static readonly PoolGeometry[] Cases =
    [
        new(Batch: 3, Channels: 2, Height: 8, Width: 8, KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2),
        new(Batch: 1, Channels: 3, Height: 7, Width: 9, KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2),
        new(Batch: 2, Channels: 2, Height: 7, Width: 6, KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1),
        new(Batch: 3, Channels: 1, Height: 5, Width: 6, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1),
        new(Batch: 2, Channels: 3, Height: 6, Width: 7, KernelH: 2, KernelW: 3, StrideH: 1, StrideW: 2, PadH: 1, PadW: 1),
        new(Batch: 1, Channels: 5, Height: 4, Width: 4, KernelH: 4, KernelW: 4, StrideH: 3, StrideW: 3, PadH: 2, PadW: 1),
    ];

    public static TheoryData<int, int, bool> CaseData()
    {
        var data = new TheoryData<int, int, bool>();
        for (int i = 0; i < Cases.Length; i++)
            foreach (int threads in new[] { 1, 2 })
                foreach (bool isDouble in new[] { false, true })
                    data.Add(i, threads, isDouble);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseData))]
    public void Kernels_match_naive_loops(int caseIndex, int threads, bool isDouble)
    {
        if (isDouble) CheckAgainstNaive<double>(Cases[caseIndex], threads);
        else CheckAgainstNaive<float>(Cases[caseIndex], threads);
    }

    [Fact]
    public void Max_and_avg_match_hand_computed_example()
    {
        // 4×4 input 1..16, 2×2 windows, stride 2: each window's maximum is its bottom-right cell.
        var g = new PoolGeometry(1, 1, 4, 4, 2, 2, 2, 2);
        float[] x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
        float[] y = new float[4];
        int[] argmax = new int[4];
        Pooling.MaxForward(g, x, 0, y, 0, argmax, threads: 1);
        Assert.Equal([6f, 8, 14, 16], y);
        Assert.Equal([5, 7, 13, 15], argmax);

        float[] dx = new float[16];
        Pooling.MaxBackward(g, [1f, 2, 3, 4], 0, argmax, dx, 0, threads: 1);
        Assert.Equal([0f, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4], dx);

        Pooling.AvgForward(g, x, 0, y, 0, threads: 1);
        Assert.Equal([3.5f, 5.5f, 11.5f, 13.5f], y);
        Pooling.AvgBackward(g, [4f, 8, 12, 16], 0, dx, 0, threads: 1);
        Assert.Equal([1f, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4], dx);
    }

    [Fact]
    public void Max_ties_pick_the_first_cell_and_padding_never_wins()
    {
        // All-equal input: every window picks its first real cell in row-major order. Padding is −∞, so with
        // all-negative input the padded border (which would be 0 under zero padding) still never wins.
        var g = new PoolGeometry(1, 1, 3, 3, 3, 3, 2, 2, PadH: 1, PadW: 1);
        float[] y = new float[4];
        int[] argmax = new int[4];
        Pooling.MaxForward(g, [-1f, -1, -1, -1, -1, -1, -1, -1, -1], 0, y, 0, argmax, threads: 1);
        Assert.Equal([-1f, -1, -1, -1], y);
        Assert.Equal([0, 1, 3, 4], argmax);

        // The centre lies in all four overlapping windows and wins each, so it collects all four gradients.
        Pooling.MaxForward(g, [0f, 0, 0, 0, 5, 0, 0, 0, 0], 0, y, 0, argmax, threads: 1);
        Assert.Equal([4, 4, 4, 4], argmax);
        float[] dx = new float[9];
        Pooling.MaxBackward(g, [1f, 2, 3, 4], 0, argmax, dx, 0, threads: 1);
        Assert.Equal([0f, 0, 0, 0, 10, 0, 0, 0, 0], dx);

        // count_include_pad: the top-left window sees 4 real cells of −1 and 5 padded zeros, divided by 9.
        Pooling.AvgForward(g, [-1f, -1, -1, -1, -1, -1, -1, -1, -1], 0, y, 0, threads: 1);
        Assert.Equal(-4f / 9, y[0], 1e-6f);
    }

    [Fact]
    public void Max_propagates_nan()
    {
        var g = new PoolGeometry(1, 1, 2, 2, 2, 2, 2, 2);
        double[] y = new double[1];
        int[] argmax = new int[1];
        Pooling.MaxForward(g, [1.0, double.NaN, 3.0, 2.0], 0, y, 0, argmax, threads: 1);
        Assert.True(double.IsNaN(y[0]));
        Assert.Equal(1, argmax[0]);
    }

    [Theory]
    [InlineData(12, 10)]   // 6 outputs per row: one group, spilling into the next row but on the plane's last
    [InlineData(14, 14)]   // 7: LeNet's second pooling layer
    [InlineData(15, 11)]   // 7, odd width and height: the spilled window reads the next rows' first cells
    [InlineData(4, 9)]     // 2 per row, 4 rows, the last input row unused
    [InlineData(2, 2)]     // a single window per plane: only the masked last row
    [InlineData(16, 10)]   // 8: one vector group
    [InlineData(23, 11)]   // 11 (odd width and height, last column and row unused): a group and an overlapping one
    [InlineData(40, 10)]   // 20: groups at 0, 8 and an overlapping one at 12
    [InlineData(36, 12)]   // 18: the gradient in groups of 8, 8 and a masked 2
    public void Max_2x2_fast_path_matches_the_window_loops_on_ties_and_nans(int width, int height)
    {
        // Values from {0, 1, 2} make ties common, and a few NaNs test "the last NaN wins"; the naive loops decide.
        var g = new PoolGeometry(Batch: 2, Channels: 3, Height: height, Width: width, KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2);
        var rng = new Random(5);
        int inSize = g.Batch * g.Channels * g.Height * g.Width;
        var x = new float[inSize];
        for (int i = 0; i < inSize; i++) x[i] = rng.Next(20) == 0 ? float.NaN : rng.Next(3);
        var (max, arg, _) = NaiveForward(g, x, 0);
        foreach (int threads in new[] { 1, 2 })
        {
            var y = new float[max.Length];
            var argmax = new int[max.Length];
            Pooling.MaxForward(g, x, 0, y, 0, argmax, threads);
            Assert.Equal(arg, argmax);
            Assert.Equal(max, y);
            var yOnly = new float[max.Length];
            Pooling.MaxForward(g, x, 0, yOnly, 0, argmax: null, threads);
            Assert.Equal(max, yOnly);

            // The gradient lands on the winners only, whatever the NaNs; cells of no window (odd sizes) get 0.
            var dy = new float[max.Length];
            for (int i = 0; i < dy.Length; i++) dy[i] = i % 7 == 0 ? -0f : rng.Next(-3, 4);
            var dx = Enumerable.Repeat(float.NaN, inSize).ToArray();
            Pooling.MaxBackward(g, dy, 0, argmax, dx, 0, threads);
            var expected = new float[inSize];
            int outPlane = g.OutHeight * g.OutWidth, inPlane = g.Height * g.Width;
            for (int i = 0; i < dy.Length; i++) expected[i / outPlane * inPlane + arg[i]] += dy[i];
            Assert.Equal(expected, dx);
            Assert.All(dx, v => Assert.False(float.IsNegative(v) && v == 0, "a -0 gradient must come out as +0"));
        }

        // Hand-checked: a tie between (0, 1) and (1, 0) goes to (0, 1), the first in row-major order; of two NaNs the last wins.
        var one = new PoolGeometry(1, 1, 2, 2, 2, 2, 2, 2);
        var y1 = new float[1];
        var a1 = new int[1];
        Pooling.MaxForward(one, [0f, 5, 5, 1], 0, y1, 0, a1, threads: 1);
        Assert.Equal(1, a1[0]);
        Pooling.MaxForward(one, [float.NaN, 5, float.NaN, 1], 0, y1, 0, a1, threads: 1);
        Assert.Equal(2, a1[0]);
    }

    [Fact]
    public void Geometry_follows_pytorch_floor_mode_and_padding_rule()
    {
        var g = new PoolGeometry(1, 1, 7, 9, 2, 3, 2, 2, PadH: 1, PadW: 1);
        // floor((7 + 2 − 2) / 2) + 1 = 4, floor((9 + 2 − 3) / 2) + 1 = 5.
        Assert.Equal((4, 5), (g.OutHeight, g.OutWidth));
        var ex = Assert.Throws<ArgumentException>(new PoolGeometry(1, 1, 8, 8, 2, 2, 2, 2, PadH: 2, PadW: 0).Validate);
        Assert.StartsWith("Pool2d: padding 2x0 must be at most half the kernel 2x2", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(new PoolGeometry(1, 1, 2, 2, 3, 3, 1, 1).Validate);
        Assert.StartsWith("Pool2d: input 2x2 with padding 0 is smaller than the kernel 3x3", ex.Message, StringComparison.Ordinal);
    }

    private static void CheckAgainstNaive<T>(PoolGeometry g, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Inputs and outputs live at a non-zero offset; outputs start out NaN so that stale values would show.
        const int off = 2;
        var rng = new Random(g.GetHashCode());
        int inSize = g.Batch * g.Channels * g.Height * g.Width, outSize = g.Batch * g.Channels * g.OutHeight * g.OutWidth;
        T[] x = Random<T>(rng, off + inSize), dy = Random<T>(rng, off + outSize);
        var (maxY, maxArg, avgY) = NaiveForward(g, x, off);
        var (maxDx, avgDx) = NaiveBackward(g, dy, off, maxArg);

        T[] y = Nans<T>(off + outSize), dx = Nans<T>(off + inSize);
        int[] argmax = new int[outSize];
        Pooling.MaxForward(g, x, off, y, off, argmax, threads);
        Assert.Equal(maxArg, argmax);
        Assert.Equal(maxY, y[off..]);
        Pooling.MaxBackward(g, dy, off, argmax, dx, off, threads);
        AssertClose(maxDx, dx, off);

        // Without winners (inference): the same maxima.
        y = Nans<T>(off + outSize);
        Pooling.MaxForward(g, x, off, y, off, argmax: null, threads);
        Assert.Equal(maxY, y[off..]);

        y = Nans<T>(off + outSize);
        dx = Nans<T>(off + inSize);
        Pooling.AvgForward(g, x, off, y, off, threads);
        AssertClose(avgY, y, off);
        Pooling.AvgBackward(g, dy, off, dx, off, threads);
        AssertClose(avgDx, dx, off);
    }

    /// <summary>Window loops over an explicitly padded view: padding reads as −∞ for max and 0 for the average.</summary>
    private static (T[] Max, int[] ArgMax, T[] Avg) NaiveForward<T>(PoolGeometry g, T[] x, int off)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = g.OutHeight, ow = g.OutWidth, planes = g.Batch * g.Channels;
        var max = new T[planes * oh * ow];
        var arg = new int[planes * oh * ow];
        var avg = new T[planes * oh * ow];
        for (int p = 0; p < planes; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    T best = T.NegativeInfinity, sum = T.Zero;
                    int bestAt = -1;
                    for (int a = 0; a < g.KernelH; a++)
                        for (int b = 0; b < g.KernelW; b++)
                        {
                            int h = i * g.StrideH - g.PadH + a, w = j * g.StrideW - g.PadW + b;
                            if (h < 0 || h >= g.Height || w < 0 || w >= g.Width) continue;
                            T v = x[off + (p * g.Height + h) * g.Width + w];
                            sum += v;
                            if (bestAt < 0 || v > best || T.IsNaN(v))   // ties keep the first cell; the last NaN wins
                            {
                                best = v;
                                bestAt = h * g.Width + w;
                            }
                        }
                    int o = (p * oh + i) * ow + j;
                    max[o] = best;
                    arg[o] = bestAt;
                    avg[o] = sum / T.CreateTruncating(g.KernelH * g.KernelW);
                }
        return (max, arg, avg);
    }

    private static (T[] MaxDx, T[] AvgDx) NaiveBackward<T>(PoolGeometry g, T[] dy, int off, int[] argmax)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = g.OutHeight, ow = g.OutWidth, planes = g.Batch * g.Channels, plane = g.Height * g.Width;
        var maxDx = new T[planes * plane];
        var avgDx = new T[planes * plane];
        for (int p = 0; p < planes; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    int o = (p * oh + i) * ow + j;
                    maxDx[p * plane + argmax[o]] += dy[off + o];
                    for (int a = 0; a < g.KernelH; a++)
                        for (int b = 0; b < g.KernelW; b++)
                        {
                            int h = i * g.StrideH - g.PadH + a, w = j * g.StrideW - g.PadW + b;
                            if (h < 0 || h >= g.Height || w < 0 || w >= g.Width) continue;
                            avgDx[p * plane + h * g.Width + w] += dy[off + o] / T.CreateTruncating(g.KernelH * g.KernelW);
                        }
                }
        return (maxDx, avgDx);
    }

    private static void AssertClose<T>(T[] expected, T[] actual, int off)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < off; i++) Assert.True(T.IsNaN(actual[i]), $"wrote before the offset at [{i}]");
        T tol = T.CreateTruncating(1e-5);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(T.Abs(expected[i] - actual[off + i]) <= tol, $"[{i}]: expected {expected[i]}, got {actual[off + i]}");
    }

    private static T[] Random<T>(Random rng, int length)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var a = new T[length];
        for (int i = 0; i < length; i++) a[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
        return a;
    }

    private static T[] Nans<T>(int length)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var a = new T[length];
        Array.Fill(a, T.NaN);
        return a;
    }
}
