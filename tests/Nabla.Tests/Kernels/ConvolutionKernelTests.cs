using System.Numerics;
using Nabla.Kernels;
using Nabla.Kernels.Cpu;
using Xunit;

namespace Nabla.Tests.Kernels;

/// <summary>The im2col convolution kernels against the direct-loop reference, a hand-worked example, and adjointness.</summary>
public class ConvolutionKernelTests
{
    /// <summary>Odd sizes, strides, padding (including more than the kernel), dilation, groups, 1×1 and batch 1 and 3.</summary>
    private static readonly ConvGeometry[] Cases =
    [
        new(Batch: 1, InChannels: 1, Height: 5, Width: 5, OutChannels: 1, KernelH: 3, KernelW: 3),
        new(Batch: 3, InChannels: 3, Height: 7, Width: 6, OutChannels: 4, KernelH: 3, KernelW: 2, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1),
        new(Batch: 3, InChannels: 4, Height: 9, Width: 8, OutChannels: 6, KernelH: 3, KernelW: 3, PadH: 2, PadW: 2, DilationH: 2, DilationW: 2, Groups: 2),
        new(Batch: 2, InChannels: 6, Height: 8, Width: 5, OutChannels: 4, KernelH: 2, KernelW: 3, StrideH: 2, StrideW: 1, PadH: 1, PadW: 0, DilationH: 1, DilationW: 2, Groups: 2),
        new(Batch: 3, InChannels: 2, Height: 5, Width: 7, OutChannels: 3, KernelH: 1, KernelW: 1),
        new(Batch: 3, InChannels: 4, Height: 6, Width: 6, OutChannels: 4, KernelH: 1, KernelW: 1, StrideH: 2, StrideW: 2, Groups: 2),
        new(Batch: 2, InChannels: 4, Height: 6, Width: 5, OutChannels: 8, KernelH: 3, KernelW: 3, PadH: 1, PadW: 1, Groups: 4),
        new(Batch: 1, InChannels: 2, Height: 3, Width: 4, OutChannels: 3, KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 3, PadH: 3, PadW: 4),
        new(Batch: 3, InChannels: 1, Height: 12, Width: 12, OutChannels: 4, KernelH: 5, KernelW: 5, PadH: 2, PadW: 2),
        new(Batch: 2, InChannels: 3, Height: 7, Width: 7, OutChannels: 5, KernelH: 5, KernelW: 5, PadH: 2, PadW: 2),
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
    public void Kernels_match_reference(int caseIndex, int threads, bool isDouble)
    {
        if (isDouble) CheckAgainstReference<double>(Cases[caseIndex], threads, 1e-12);
        else CheckAgainstReference<float>(Cases[caseIndex], threads, 2e-5);
    }

    [Fact]
    public void Forward_and_backward_match_hand_computed_example()
    {
        // 3×3 input 1..9, 2×2 kernel [[1, 2], [3, 4]], valid cross-correlation: y[i,j] = Σ x[i+a, j+b]·w[a,b].
        var g = new ConvGeometry(Batch: 1, InChannels: 1, Height: 3, Width: 3, OutChannels: 1, KernelH: 2, KernelW: 2);
        float[] x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        float[] w = [1, 2, 3, 4];
        float[] y = new float[4];
        Convolution.Forward(g, x, 0, w, 0, [0.5f], 0, y, 0, threads: 1);
        Assert.Equal([37.5f, 47.5f, 67.5f, 77.5f], y);

        // With dy = 1 everywhere, dx counts each weight once per window covering the pixel, and dw sums each window.
        float[] ones = [1, 1, 1, 1];
        float[] dx = new float[9];
        Convolution.BackwardInput(g, ones, 0, w, 0, dx, 0, threads: 1);
        Assert.Equal([1f, 3, 2, 4, 10, 6, 3, 7, 4], dx);
        float[] dw = new float[4];
        Convolution.BackwardWeight(g, x, 0, ones, 0, dw, 0, threads: 1);
        Assert.Equal([12f, 16, 24, 28], dw);
        float[] db = new float[1];
        Convolution.BackwardBias(g, ones, 0, db, 0, threads: 1);
        Assert.Equal(4f, db[0]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void Backward_kernels_are_adjoints_of_forward(int caseIndex)
    {
        // ⟨conv(x, w), dy⟩ is bilinear in (x, w), so its gradients must satisfy
        // ⟨conv(x, w), dy⟩ = ⟨x, BackwardInput(dy, w)⟩ = ⟨w, BackwardWeight(x, dy)⟩.
        ConvGeometry g = Cases[caseIndex];
        var rng = new Random(caseIndex);
        double[] x = Random<double>(rng, InputSize(g));
        double[] w = Random<double>(rng, WeightSize(g));
        double[] dy = Random<double>(rng, OutputSize(g));
        double[] y = new double[OutputSize(g)];
        double[] dx = new double[InputSize(g)];
        double[] dw = new double[WeightSize(g)];
        Convolution.Forward(g, x, 0, w, 0, null, 0, y, 0, threads: 2);
        Convolution.BackwardInput(g, dy, 0, w, 0, dx, 0, threads: 2);
        Convolution.BackwardWeight(g, x, 0, dy, 0, dw, 0, threads: 2);
        double expected = Dot(y, dy);
        Assert.Equal(expected, Dot(x, dx), 1e-10 * (1 + Math.Abs(expected)));
        Assert.Equal(expected, Dot(w, dw), 1e-10 * (1 + Math.Abs(expected)));
    }

    [Fact]
    public void Geometry_output_size_follows_pytorch()
    {
        var lenet = new ConvGeometry(64, 32, 14, 14, 64, 5, 5, PadH: 2, PadW: 2);
        Assert.Equal((14, 14), (lenet.OutHeight, lenet.OutWidth));
        // floor((7 + 2·1 − 2·(3 − 1) − 1) / 2) + 1 = 3 and floor((8 + 0 − 1·(2 − 1) − 1) / 3) + 1 = 3.
        var odd = new ConvGeometry(1, 1, 7, 8, 1, 3, 2, StrideH: 2, StrideW: 3, PadH: 1, DilationH: 2);
        Assert.Equal((3, 3), (odd.OutHeight, odd.OutWidth));
    }

    [Theory]
    [InlineData(3, 3, 5, 0, 1, 1, "Conv2d: input 3x3 with padding 0 is smaller than the dilated kernel 5x5")]
    [InlineData(5, 5, 3, 0, 3, 1, "Conv2d: input 5x5 with padding 0 is smaller than the dilated kernel 7x7")]
    [InlineData(8, 8, 3, 0, 1, 3, "Conv2d: in channels 4 are not divisible by groups 3")]
    [InlineData(8, 0, 3, 0, 1, 1, "Conv2d: input shape [1, 4, 8, 0] must have positive sizes")]
    [InlineData(8, 8, 3, -1, 1, 1, "Conv2d: padding -1x-1 must be non-negative")]
    public void Geometry_validation_names_the_problem(int height, int width, int kernel, int pad, int dilation, int groups, string message)
    {
        var g = new ConvGeometry(1, 4, height, width, 6, kernel, kernel, PadH: pad, PadW: pad, DilationH: dilation, DilationW: dilation, Groups: groups);
        var ex = Assert.Throws<ArgumentException>(g.Validate);
        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
    }

    private static void CheckAgainstReference<T>(ConvGeometry g, int threads, double tolerance)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Every array starts at a non-zero offset; outputs start out NaN to prove they are overwritten, and their
        // leading slots must stay NaN to prove nothing is written before the offset.
        const int off = 3;
        var rng = new Random(g.GetHashCode());
        T[] x = Random<T>(rng, off + InputSize(g));
        T[] w = Random<T>(rng, off + WeightSize(g));
        T[] bias = Random<T>(rng, off + g.OutChannels);
        T[] dy = Random<T>(rng, off + OutputSize(g));

        T[] expected = new T[off + OutputSize(g)], actual = Nans<T>(off + OutputSize(g));
        ReferenceConvolution.Forward(g, x, off, w, off, bias, off, expected, off);
        Convolution.Forward(g, x, off, w, off, bias, off, actual, off, threads);
        AssertClose(expected, actual, off, tolerance, "forward with bias");

        ReferenceConvolution.Forward(g, x, off, w, off, null, 0, expected, off);
        Convolution.Forward(g, x, off, w, off, null, 0, actual, off, threads);
        AssertClose(expected, actual, off, tolerance, "forward without bias");

        expected = new T[off + InputSize(g)];
        actual = Nans<T>(off + InputSize(g));
        ReferenceConvolution.BackwardInput(g, dy, off, w, off, expected, off);
        Convolution.BackwardInput(g, dy, off, w, off, actual, off, threads);
        AssertClose(expected, actual, off, tolerance, "backward input");

        expected = new T[off + WeightSize(g)];
        actual = Nans<T>(off + WeightSize(g));
        ReferenceConvolution.BackwardWeight(g, x, off, dy, off, expected, off);
        Convolution.BackwardWeight(g, x, off, dy, off, actual, off, threads);
        AssertClose(expected, actual, off, tolerance, "backward weight");

        // The bias gradient is the weight gradient of a conv whose input is all ones, seen through a 1×1 kernel.
        actual = Nans<T>(off + g.OutChannels);
        Convolution.BackwardBias(g, dy, off, actual, off, threads);
        int outPlane = g.OutHeight * g.OutWidth;
        for (int o = 0; o < g.OutChannels; o++)
        {
            T sum = T.Zero;
            for (int n = 0; n < g.Batch; n++)
                for (int p = 0; p < outPlane; p++)
                    sum += dy[off + (n * g.OutChannels + o) * outPlane + p];
            Assert.True(T.Abs(sum - actual[off + o]) <= T.CreateTruncating(tolerance) * (T.One + T.Abs(sum)), $"backward bias [{o}]: {sum} vs {actual[off + o]}");
        }
    }

    private static void AssertClose<T>(T[] expected, T[] actual, int off, double tolerance, string what)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < off; i++) Assert.True(T.IsNaN(actual[i]), $"{what}: wrote before the offset at [{i}]");
        // Sums of up to a few hundred products of values in [−1, 1]: scale the tolerance by the magnitude.
        T tol = T.CreateTruncating(tolerance);
        for (int i = off; i < expected.Length; i++)
            Assert.True(T.Abs(expected[i] - actual[i]) <= tol * (T.One + T.Abs(expected[i])), $"{what} [{i - off}]: expected {expected[i]}, got {actual[i]}");
    }

    private static int InputSize(ConvGeometry g) => g.Batch * g.InChannels * g.Height * g.Width;

    private static int WeightSize(ConvGeometry g) => g.OutChannels * g.GroupInChannels * g.KernelH * g.KernelW;

    private static int OutputSize(ConvGeometry g) => g.Batch * g.OutChannels * g.OutHeight * g.OutWidth;

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

    private static double Dot(double[] a, double[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }
}
