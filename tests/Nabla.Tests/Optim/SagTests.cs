using Nabla.Autodiff;
using Nabla.Optim;

namespace Nabla.Tests.Optim;

/// <summary>
/// Stochastic average gradient (001 §17.1.5) on the least-squares loss (1/n)·Σᵢ ½(xᵢᵀβ − yᵢ)², n = 4, β ∈ ℝ²,
/// against a hand-written loop over a gradient table.
/// </summary>
public class SagTests
{
    private static readonly double[][] X = [[1, 2], [-1, 0.5], [0.3, -1.2], [2, 1]];
    private static readonly double[] Y = [1, -0.5, 2, 0.25];
    private static readonly int[] Order = [0, 2, 1, 2, 3, 0, 3, 3, 1, 2, 0, 1];

    private static Gradients SampleGradient(Tensor beta, int i) =>
        (((Tensor.FromArray(X[i]) * beta).Sum() - Y[i]).Square() * 0.5).Backward();

    /// <summary>The SAG iterates by hand: table G, sum S, β ← β − τ·(S/m + λβ).</summary>
    private static List<double[]> Reference(double tau, double lambda, bool bySeen)
    {
        int n = X.Length;
        var table = new double[n][];
        for (int i = 0; i < n; i++) table[i] = new double[2];
        var sum = new double[2];
        var seen = new bool[n];
        double[] beta = [0.5, -0.5];
        var iterates = new List<double[]>();
        foreach (int i in Order)
        {
            seen[i] = true;
            double residual = X[i][0] * beta[0] + X[i][1] * beta[1] - Y[i];
            double m = bySeen ? seen.Count(s => s) : n;
            double[] next = new double[2];
            for (int k = 0; k < 2; k++)
            {
                double h = residual * X[i][k];
                sum[k] += h - table[i][k];
                table[i][k] = h;
                next[k] = beta[k] - tau * (sum[k] / m + lambda * beta[k]);
            }
            beta = next;
            iterates.Add(beta);
        }
        return iterates;
    }

    [Theory]
    [InlineData(0.3, 0.0, false)]
    [InlineData(0.3, 0.1, false)]
    [InlineData(0.2, 0.0, true)]
    public void Steps_MatchTheHandWrittenTableLoop(double tau, double lambda, bool bySeen)
    {
        var beta = Tensor.FromArray([0.5, -0.5]).RequireGrad();
        var sag = new Sag([("beta", beta)], new SagOptions(tau, SampleCount: 4, WeightDecay: lambda, NormalizeBySeen: bySeen));
        var expected = Reference(tau, lambda, bySeen);
        for (int s = 0; s < Order.Length; s++)
        {
            sag.Step(SampleGradient(beta, Order[s]), Order[s]);
            var actual = beta.ToArray<double>();
            Assert.Equal(expected[s][0], actual[0], 13);
            Assert.Equal(expected[s][1], actual[1], 13);
        }
        Assert.Equal(4, sag.SeenCount);
    }

    [Fact]
    public void CyclicPasses_ConvergeToTheLeastSquaresSolution()
    {
        // Normal equations (Σ xᵢxᵢᵀ) β = Σ xᵢyᵢ, solved by hand for the 2×2 case.
        double a = 0, b = 0, d = 0, r0 = 0, r1 = 0;
        for (int i = 0; i < X.Length; i++)
        {
            a += X[i][0] * X[i][0]; b += X[i][0] * X[i][1]; d += X[i][1] * X[i][1];
            r0 += X[i][0] * Y[i]; r1 += X[i][1] * Y[i];
        }
        double det = a * d - b * b;
        double[] solution = [(d * r0 - b * r1) / det, (a * r1 - b * r0) / det];

        var beta = Tensor.FromArray([0.0, 0.0]).RequireGrad();
        var sag = new Sag([("beta", beta)], new SagOptions(0.2, SampleCount: 4)); // τ ≈ 1/(2L); 0.3 already diverges in cyclic order
        for (int pass = 0; pass < 150; pass++)
            for (int i = 0; i < 4; i++) sag.Step(SampleGradient(beta, i), i);
        var result = beta.ToArray<double>();
        Assert.Equal(solution[0], result[0], 12);
        Assert.Equal(solution[1], result[1], 12);
    }

    [Fact]
    public void StepWithoutSampleIndex_Throws()
    {
        var beta = Tensor.FromArray([0.0, 0.0]).RequireGrad();
        var sag = new Sag([("beta", beta)], new SagOptions(0.1, SampleCount: 4));
        var e = Assert.Throws<NotSupportedException>(() => sag.Step(SampleGradient(beta, 0)));
        Assert.Contains("sampleIndex", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => sag.Step(SampleGradient(beta, 0), 4));
    }

    [Fact]
    public void State_HoldsTheGradientTable()
    {
        var beta = Tensor.FromArray([0.0, 0.0]).RequireGrad();
        var sag = new Sag([("beta", beta)], new SagOptions(0.1, SampleCount: 4));
        sag.Step(SampleGradient(beta, 1), 1);
        var state = sag.StateDict();
        Assert.Equal([4, 2], state["beta.grad_table"].Shape);
        Assert.Equal([2], state["beta.grad_sum"].Shape);
        Assert.Equal([false, true, false, false], state["seen"].ToArray<bool>());
        // h = (x₁ᵀβ − y₁)·x₁ at β = 0: 0.5·[−1, 0.5]
        Assert.Equal([0, 0, -0.5, 0.25, 0, 0, 0, 0], state["beta.grad_table"].ToArray<double>());
    }
}
