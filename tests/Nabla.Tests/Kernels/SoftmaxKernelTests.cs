using Nabla.Kernels;
using Xunit;

namespace Nabla.Tests.Kernels;

/// <summary>The fused log-softmax kernel against the formula in float64, on every axis position and both thread counts.</summary>
public class SoftmaxKernelTests
{
    /// <summary>Shapes large enough (≥ 2¹⁶ elements) that two threads split the outer slabs; the axis last, first and inner.</summary>
    [Theory]
    [InlineData(new[] { 300, 257 }, 1, DType.Float32)]
    [InlineData(new[] { 257, 300 }, 0, DType.Float32)]
    [InlineData(new[] { 40, 33, 50 }, 1, DType.Float32)]
    [InlineData(new[] { 40, 33, 50 }, 1, DType.Float64)]
    [InlineData(new[] { 3, 1, 5 }, 2, DType.Float64)]
    public void Log_softmax_matches_the_formula_on_one_and_two_threads(int[] shape, int axis, DType dtype)
    {
        var g = new Generator(7);
        var x = (Tensor.Randn(shape, g, DType.Float64) * 8).To(dtype);
        var one = x.ToDevice(Device.CpuWithThreads(1)).LogSoftmax(axis).ToArray<double>();
        var two = x.ToDevice(Device.CpuWithThreads(2)).LogSoftmax(axis).ToArray<double>();
        Assert.Equal(one, two);

        var xs = x.ToArray<double>();
        int n = shape[axis], inner = shape.Skip(axis + 1).Aggregate(1, (p, d) => p * d), outer = xs.Length / (n * inner);
        double tolerance = dtype == DType.Float32 ? 2e-5 : 1e-12;
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int At(int j) => (o * n + j) * inner + i;
                double m = Enumerable.Range(0, n).Max(j => xs[At(j)]);
                double lse = m + Math.Log(Enumerable.Range(0, n).Sum(j => Math.Exp(xs[At(j)] - m)));
                for (int j = 0; j < n; j++) Assert.Equal(xs[At(j)] - lse, one[At(j)], tolerance);
            }
    }

    [Fact]
    public void Infinities_and_NaN_give_what_PyTorch_gives()
    {
        double inf = double.PositiveInfinity, nan = double.NaN;
        double[][] rows = [[-inf, 0], [-inf, -inf], [inf, 1], [nan, 0], [1000, -1000, 999]];
        // torch.log_softmax(torch.tensor(row), 0) in float64.
        double[][] expected = [[-inf, 0], [nan, nan], [nan, nan], [nan, nan], [-0.31326168751822286, -2000.3132616875182, -1.3132616875182228]];
        for (int r = 0; r < rows.Length; r++)
        {
            Same(expected[r], Tensor.FromArray(rows[r]).LogSoftmax(0).ToArray<double>());
            // The same lines down an inner axis (columns of a [n, 2] tensor whose second column is finite).
            var columns = Tensor.Stack([Tensor.FromArray(rows[r]), Tensor.ZerosLike(Tensor.FromArray(rows[r]))], 1);
            Same(expected[r], columns.LogSoftmax(0).Select(1, 0).ToArray<double>());
        }
    }

    /// <summary>NaN and ±∞ exactly where expected; finite values to 1e-12 (PyTorch's last digits differ by a few ulps).</summary>
    private static void Same(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (double.IsFinite(expected[i])) Assert.Equal(expected[i], actual[i], 1e-12);
            else Assert.Equal(expected[i], actual[i]);
        }
    }
}
