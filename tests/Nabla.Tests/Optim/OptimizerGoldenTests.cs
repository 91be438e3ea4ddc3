using System.Text.Json;
using Nabla.Kernels;

namespace Nabla.Tests.Optim;

/// <summary>
/// Every optimizer configuration of Golden/optim.json, in float32 and float64: the same least-squares problem,
/// gradients by Nabla's autodiff, five steps, parameters compared with PyTorch's after each step.
/// </summary>
public class OptimizerGoldenTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var c in OptimGolden.Optimizers) data.Add(c.GetProperty("name").GetString()!, c.GetProperty("dtype").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Steps_MatchPyTorch(string name, string dtypeName)
    {
        JsonElement c = OptimGolden.Optimizers.Single(e => e.GetProperty("name").GetString() == name && e.GetProperty("dtype").GetString() == dtypeName);
        DType dtype = dtypeName == "float32" ? DType.Float32 : DType.Float64;
        // float32: PyTorch and Nabla round differently inside the loss and the update; float64 agrees to ~1e-15.
        (double rtol, double atol) = dtype == DType.Float32 ? (1e-5, 1e-6) : (1e-11, 1e-13);
        var x = OptimGolden.Load("x", dtype);
        var y = OptimGolden.Load("y", dtype);
        var (w, b) = OptimGolden.Parameters(dtype);
        var optimizer = OptimGolden.Create(c.GetProperty("optimizer").GetString()!, c.GetProperty("options"), [("weight", w), ("bias", b)]);

        int step = 0;
        foreach (JsonElement expected in c.GetProperty("steps").EnumerateArray())
        {
            step++;
            optimizer.Step(OptimGolden.Loss(x, y, w, b).Backward());
            AssertClose(OptimGolden.Numbers(expected.GetProperty("weight")), w.ToArray<double>(), rtol, atol, $"{name} {dtypeName} step {step} weight");
            AssertClose(OptimGolden.Numbers(expected.GetProperty("bias")), b.ToArray<double>(), rtol, atol, $"{name} {dtypeName} step {step} bias");
        }
        Assert.Equal(5, step);
        Assert.Equal(5, optimizer.Steps);
    }

    internal static void AssertClose(double[] expected, double[] actual, double rtol, double atol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            Assert.True(err <= atol + rtol * Math.Abs(expected[i]), $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (error {err:E2})");
        }
    }
}
