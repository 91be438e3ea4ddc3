using System.Numerics;
using System.Runtime.Intrinsics;
using Nabla.Kernels;
using Nabla.Kernels.Cpu;
using Xunit;

namespace Nabla.Tests.Kernels;

/// <summary>
/// The convolution kernels (the dispatcher and both algorithms it picks from) against the direct-loop reference, a
/// hand-worked example, and adjointness of the backward kernels.
/// </summary>
public class ConvolutionKernelTests
{
    /// <summary>
    /// Odd sizes, strides, padding (including more than the kernel), dilation, groups, 1×1 and batch 1 and 3. The last
    /// five are wide enough for the direct kernels to fill whole vectors and more (rows of 16 float lanes plus a tail),
    /// with channel and tap counts that are not multiples of their tile sizes; the very last has enough input channels
    /// that the direct forward walks its output rows in several cache-sized passes.
    /// </summary>
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
        new(Batch: 3, InChannels: 3, Height: 11, Width: 21, OutChannels: 7, KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 1, PadH: 1, PadW: 1),
        new(Batch: 2, InChannels: 4, Height: 10, Width: 18, OutChannels: 10, KernelH: 3, KernelW: 3, PadH: 2, PadW: 2, DilationH: 2, DilationW: 2, Groups: 2),
        new(Batch: 2, InChannels: 8, Height: 14, Width: 14, OutChannels: 16, KernelH: 5, KernelW: 5, PadH: 2, PadW: 2),
        new(Batch: 2, InChannels: 5, Height: 4, Width: 17, OutChannels: 9, KernelH: 1, KernelW: 1),
        new(Batch: 2, InChannels: 3, Height: 9, Width: 9, OutChannels: 16, KernelH: 3, KernelW: 3, PadH: 1, PadW: 1),
        new(Batch: 1, InChannels: 64, Height: 16, Width: 64, OutChannels: 2, KernelH: 1, KernelW: 3, PadW: 1),
        // Wide enough in channels and taps for the channel-vectorised kernels to be preferred: LeNet's second layer
        // (rows of 14, one full and one partial tile for double), rows of 30 (three tiles, the last partial), and groups.
        new(Batch: 3, InChannels: 32, Height: 14, Width: 14, OutChannels: 32, KernelH: 5, KernelW: 5, PadH: 2, PadW: 2),
        new(Batch: 2, InChannels: 12, Height: 9, Width: 30, OutChannels: 64, KernelH: 3, KernelW: 3, StrideH: 2, PadH: 1, PadW: 1),
        new(Batch: 2, InChannels: 32, Height: 7, Width: 11, OutChannels: 64, KernelH: 3, KernelW: 3, PadH: 1, PadW: 1, DilationW: 2, Groups: 2),
        // Batch 1, so that with two threads the products themselves are split (LeNet's layers; conv2 with 16 filters
        // rather than 64, whose 1600-term float sums of the input gradient differ from the reference's by a little more
        // than the tolerance), also with groups, dilation and a vertical stride.
        new(Batch: 1, InChannels: 32, Height: 14, Width: 14, OutChannels: 16, KernelH: 5, KernelW: 5, PadH: 2, PadW: 2),
        new(Batch: 1, InChannels: 1, Height: 28, Width: 28, OutChannels: 32, KernelH: 5, KernelW: 5, PadH: 2, PadW: 2),
        new(Batch: 1, InChannels: 4, Height: 21, Width: 13, OutChannels: 6, KernelH: 3, KernelW: 2, StrideH: 2, PadH: 1, PadW: 1, DilationH: 2, DilationW: 3, Groups: 2),
        // Batch 1 with im2col's channels split over two threads and rows of 28 (not a whole number of float vectors):
        // a range's last run must not spill into the next range's first run, which the other thread writes. With a
        // vertical stride of 2 the spill would carry the last input row, which no window reads, rather than (by
        // coincidence) the values the next run holds anyway.
        new(Batch: 1, InChannels: 8, Height: 30, Width: 30, OutChannels: 4, KernelH: 3, KernelW: 3, StrideH: 2),
        // Winograd's geometries with channels that are not whole vectors, outputs that are not whole tiles, uneven
        // padding, and padding beyond r − 1 (its input gradient then goes to im2col).
        new(Batch: 2, InChannels: 19, Height: 11, Width: 13, OutChannels: 21, KernelH: 3, KernelW: 3, PadH: 0, PadW: 2),
        new(Batch: 3, InChannels: 16, Height: 9, Width: 6, OutChannels: 17, KernelH: 5, KernelW: 5, PadH: 1, PadW: 3),
        new(Batch: 1, InChannels: 16, Height: 5, Width: 6, OutChannels: 16, KernelH: 3, KernelW: 3, PadH: 3, PadW: 1),
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
    [InlineData(11)]
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
    public void Short_arrays_are_rejected_before_any_kernel_runs()
    {
        // The direct kernels index with raw pointers, so the length checks are what keeps them in bounds.
        var g = new ConvGeometry(Batch: 2, InChannels: 3, Height: 8, Width: 20, OutChannels: 8, KernelH: 3, KernelW: 3, PadH: 1, PadW: 1);
        float[] x = new float[2 * 3 * 8 * 20], w = new float[8 * 3 * 9], y = new float[2 * 8 * 8 * 20];
        var ex = Assert.Throws<ArgumentException>(() => Convolution.Forward(g, x, 0, w, 0, null, 0, y, 1, threads: 1));
        Assert.StartsWith("Conv2d: y needs 2560 elements from offset 1", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Convolution.BackwardInput(g, y, 0, w, 0, x, 5, threads: 1));
        Assert.Throws<ArgumentException>(() => Convolution.BackwardWeight(g, x, 0, y, 0, new float[w.Length - 1], 0, threads: 1));
        Assert.Throws<ArgumentException>(() => Convolution.Forward(g, x, 0, w, 0, new float[7], 0, y, 0, threads: 1));
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

    [Fact]
    public void Lenets_second_layer_runs_its_float32_forward_through_winograd_from_enough_tiles()
    {
        // 5×5 with 32→64 channels: Winograd's forward where it has tiles enough (batch 64: 3136), with AVX-512 or AVX2;
        // float64 and a single image (49 tiles) go elsewhere. With AVX-512 the gradients keep its channel kernel.
        if (!Vector256.IsHardwareAccelerated) return;   // Winograd's transforms need 256-bit vectors
        var batch64 = new ConvGeometry(64, 32, 14, 14, 64, 5, 5, PadH: 2, PadW: 2);
        var single = batch64 with { Batch = 1 };
        Assert.Equal(ConvAlgorithm.Winograd, Convolution.ForwardAlgorithm<float>(batch64));
        Assert.NotEqual(ConvAlgorithm.Winograd, Convolution.ForwardAlgorithm<double>(batch64));
        Assert.NotEqual(ConvAlgorithm.Winograd, Convolution.ForwardAlgorithm<float>(single));
        if (DirectConvolution.IsAvailable<float>())
        {
            Assert.Equal(ConvAlgorithm.Channel, Convolution.BackwardInputAlgorithm<float>(batch64));
            Assert.Equal(ConvAlgorithm.Channel, Convolution.BackwardWeightAlgorithm<float>(batch64));
        }
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

    /// <summary>The dispatcher and each algorithm it can pick, so that all are covered whichever one it prefers.</summary>
    public enum Algorithm { Dispatch, Im2Col, Direct, Channel, Winograd }

    /// <summary>
    /// Winograd's transforms cost float32 accuracy (see <see cref="WinogradConvolution"/>): its results are held to a bound
    /// on the error relative to the result's RMS rather than to each element (measured: up to ≈ 3·10⁻⁵ of it, the 5×5 weight gradient).
    /// </summary>
    private const double WinogradTolerance = 1e-4;

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

        T[] y = new T[off + OutputSize(g)], yNoBias = new T[off + OutputSize(g)];
        T[] dx = new T[off + InputSize(g)], dw = new T[off + WeightSize(g)];
        ReferenceConvolution.Forward(g, x, off, w, off, bias, off, y, off);
        ReferenceConvolution.Forward(g, x, off, w, off, null, 0, yNoBias, off);
        ReferenceConvolution.BackwardInput(g, dy, off, w, off, dx, off);
        ReferenceConvolution.BackwardWeight(g, x, off, dy, off, dw, off);

        bool isFloat = typeof(T) == typeof(float);
        foreach (Algorithm algorithm in Enum.GetValues<Algorithm>())
        {
            // The vectorised kernels run on every geometry they accept, not only where the dispatcher would pick them.
            bool direct = algorithm == Algorithm.Direct, channel = algorithm == Algorithm.Channel, winograd = algorithm == Algorithm.Winograd;
            if ((direct || channel) && !DirectConvolution.IsAvailable<T>()) continue;
            if (winograd && !(isFloat && WinogradConvolution.Accepts(g))) continue;
            bool dispatch = algorithm == Algorithm.Dispatch;
            // Which results come from Winograd, the only algorithm not held to the element-wise bound.
            bool winogradForward = winograd || (dispatch && isFloat && Convolution.ForwardAlgorithm<T>(g) == ConvAlgorithm.Winograd);
            bool winogradInput = winograd || (dispatch && isFloat && Convolution.BackwardInputAlgorithm<T>(g) == ConvAlgorithm.Winograd);
            bool winogradWeight = winograd || (dispatch && isFloat && Convolution.BackwardWeightAlgorithm<T>(g) == ConvAlgorithm.Winograd);
            if (direct ? DirectConvolution.Accepts(g) : !channel || ChannelConvolution.Accepts<T>(g))
            {
                T[] actual = Nans<T>(y.Length);
                Forward(algorithm, g, x, off, w, off, bias, off, actual, off, threads);
                AssertClose(y, actual, off, tolerance, $"{algorithm} forward with bias", winogradForward);
                actual = Nans<T>(y.Length);
                Forward(algorithm, g, x, off, w, off, null, 0, actual, off, threads);
                AssertClose(yNoBias, actual, off, tolerance, $"{algorithm} forward without bias", winogradForward);
                actual = Nans<T>(dw.Length);
                BackwardWeight(algorithm, g, x, off, dy, off, actual, off, threads);
                AssertClose(dw, actual, off, tolerance, $"{algorithm} backward weight", winogradWeight);
            }
            if (winograd ? g.PadH < g.KernelH && g.PadW < g.KernelW
                : (!direct && !channel) || (DirectConvolution.AcceptsBackwardInput(g)
                    && (direct || ChannelConvolution.Accepts<T>(DirectConvolution.Transposed(g)))))
            {
                T[] actual = Nans<T>(dx.Length);
                BackwardInput(algorithm, g, dy, off, w, off, actual, off, threads);
                AssertClose(dx, actual, off, tolerance, $"{algorithm} backward input", winogradInput);
            }
        }

        T[] db = Nans<T>(off + g.OutChannels);
        Convolution.BackwardBias(g, dy, off, db, off, threads);
        int outPlane = g.OutHeight * g.OutWidth;
        T[] expected = new T[off + g.OutChannels];
        for (int o = 0; o < g.OutChannels; o++)
            for (int n = 0; n < g.Batch; n++)
                for (int p = 0; p < outPlane; p++)
                    expected[off + o] += dy[off + (n * g.OutChannels + o) * outPlane + p];
        AssertClose(expected, db, off, tolerance, "backward bias");
    }

    private static void Forward<T>(Algorithm algorithm, ConvGeometry g, T[] x, int xOff, T[] w, int wOff, T[]? bias, int biasOff, T[] y, int yOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (algorithm)
        {
            case Algorithm.Im2Col: Im2ColConvolution.Forward(g, x, xOff, w, wOff, bias, biasOff, y, yOff, threads); break;
            case Algorithm.Direct: DirectConvolution.Forward(g, x, xOff, w, wOff, bias, biasOff, y, yOff, threads); break;
            case Algorithm.Channel: ChannelConvolution.Forward(g, x, xOff, w, wOff, bias, biasOff, y, yOff, threads); break;
            case Algorithm.Winograd:
                WinogradConvolution.Forward(g, (float[])(object)x, xOff, (float[])(object)w, wOff, (float[]?)(object?)bias, biasOff, (float[])(object)y, yOff, threads);
                break;
            default: Convolution.Forward(g, x, xOff, w, wOff, bias, biasOff, y, yOff, threads); break;
        }
    }

    private static void BackwardInput<T>(Algorithm algorithm, ConvGeometry g, T[] dy, int dyOff, T[] w, int wOff, T[] dx, int dxOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (algorithm)
        {
            case Algorithm.Im2Col: Im2ColConvolution.BackwardInput(g, dy, dyOff, w, wOff, dx, dxOff, threads); break;
            case Algorithm.Direct: DirectConvolution.BackwardInput(g, dy, dyOff, w, wOff, dx, dxOff, threads); break;
            case Algorithm.Channel: ChannelConvolution.BackwardInput(g, dy, dyOff, w, wOff, dx, dxOff, threads); break;
            case Algorithm.Winograd:
                WinogradConvolution.BackwardInput(g, (float[])(object)dy, dyOff, (float[])(object)w, wOff, (float[])(object)dx, dxOff, threads);
                break;
            default: Convolution.BackwardInput(g, dy, dyOff, w, wOff, dx, dxOff, threads); break;
        }
    }

    private static void BackwardWeight<T>(Algorithm algorithm, ConvGeometry g, T[] x, int xOff, T[] dy, int dyOff, T[] dw, int dwOff, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (algorithm)
        {
            case Algorithm.Im2Col: Im2ColConvolution.BackwardWeight(g, x, xOff, dy, dyOff, dw, dwOff, threads); break;
            case Algorithm.Direct: DirectConvolution.BackwardWeight(g, x, xOff, dy, dyOff, dw, dwOff, threads); break;
            case Algorithm.Channel: ChannelConvolution.BackwardWeight(g, x, xOff, dy, dyOff, dw, dwOff, threads); break;
            case Algorithm.Winograd:
                WinogradConvolution.BackwardWeight(g, (float[])(object)x, xOff, (float[])(object)dy, dyOff, (float[])(object)dw, dwOff, threads);
                break;
            default: Convolution.BackwardWeight(g, x, xOff, dy, dyOff, dw, dwOff, threads); break;
        }
    }

    private static void AssertClose<T>(T[] expected, T[] actual, int off, double tolerance, string what, bool winograd = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < off; i++) Assert.True(T.IsNaN(actual[i]), $"{what}: wrote before the offset at [{i}]");
        // Sums of up to a few hundred products of values in [−1, 1]: scale the tolerance by the magnitude, of each
        // element or, for Winograd, of the whole output (its error is spread by the transforms).
        T tol = T.CreateTruncating(winograd ? WinogradTolerance : tolerance);
        T rms = T.Zero;
        for (int i = off; i < expected.Length; i++) rms += expected[i] * expected[i];
        rms = T.Sqrt(rms / T.CreateTruncating(Math.Max(1, expected.Length - off)));
        for (int i = off; i < expected.Length; i++)
        {
            T scale = winograd ? rms : T.Abs(expected[i]);
            Assert.True(T.Abs(expected[i] - actual[i]) <= tol * (T.One + scale), $"{what} [{i - off}]: expected {expected[i]}, got {actual[i]}");
        }
    }

    [Fact]
    public void Winograd_transforms_written_out_match_the_interpolation_matrices()
    {
        // InputRow computes Bᵀd, OutputRow Aᵀm and GradientRow A y by hand-written formulas; applied to unit vectors
        // they must give the columns (GradientRow: the rows) of the matrices that Toom–Cook interpolation at 0, ±1, ±2, ∞
        // produces.
        foreach (int r in new[] { 3, 5 })
        {
            var t = WinogradConvolution.For(r);
            Assert.Equal(7 - r, t.M);
            for (int i = 0; i < 6; i++)
            {
                var e = new Vector256<float>[6];
                for (int k = 0; k < 6; k++) e[k] = Vector256.Create(k == i ? 1f : 0f);
                var input = new Vector256<float>[6];
                var output = new Vector256<float>[4];
                unsafe
                {
                    fixed (Vector256<float>* pi = input, po = output)
                    {
                        WinogradConvolution.InputRow(e[0], e[1], e[2], e[3], e[4], e[5], pi);
                        WinogradConvolution.OutputRow(t.M, e[0], e[1], e[2], e[3], e[4], e[5], po);
                    }
                }
                for (int xi = 0; xi < 6; xi++) Assert.Equal(t.Bt[xi * 6 + i], input[xi].GetElement(3));
                for (int a = 0; a < t.M; a++) Assert.Equal(t.At[a * 6 + i], output[a].GetElement(5));
            }
            for (int a = 0; a < t.M; a++)
            {
                var e = new Vector256<float>[4];
                for (int k = 0; k < 4; k++) e[k] = Vector256.Create(k == a ? 1f : 0f);
                var gradient = new Vector256<float>[6];
                unsafe
                {
                    fixed (Vector256<float>* pg = gradient) WinogradConvolution.GradientRow(t.M, e[0], e[1], e[2], e[3], pg);
                }
                for (int xi = 0; xi < 6; xi++) Assert.Equal(t.At[a * 6 + xi], gradient[xi].GetElement(2));
            }
            // Bᵀ's row for the point 0 was scaled by (0−1)(0+1)(0−2)(0+2) = 4 to integers, so G's row is divided by 4.
            Assert.Equal(1f / 4, t.G[0]);
        }
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
