using Nabla.Autodiff;
using Nabla.Kernels;
using Nabla.Optim;

namespace Nabla.Tests.Optim;

/// <summary>SGD with iterate averaging (001 §17.1.4) on f(β) = (β − 1)², against hand computations.</summary>
public class SgaTests
{
    private static Tensor Beta(double start) => Tensor.FromArray([start]).Detach().RequireGrad();

    private static Gradients Grad(Tensor beta) => (beta - 1).Square().Sum().Backward();

    private static double Value(Tensor t) => t.ToArray<double>()[0];

    [Fact]
    public void Average_IsTheCesaroMeanOfTheIterates()
    {
        // τ = 1/4: β ← β − (1/4)·2(β − 1) = (β + 1)/2, so from 0 the iterates are 0, 1/2, 3/4, 7/8
        // and their running means 0, 1/4, 5/12, 17/32.
        var beta = Beta(0);
        var sga = new Sga([("beta", beta)], new SgaOptions(0.25));
        Assert.Equal(0, Value(sga.AverageOf(beta)));
        double[] iterates = [0.5, 0.75, 0.875];
        double[] averages = [0.25, 5.0 / 12, 17.0 / 32];
        for (int l = 0; l < 3; l++)
        {
            sga.Step(Grad(beta));
            Assert.Equal(iterates[l], Value(beta), 15);
            Assert.Equal(averages[l], Value(sga.AverageOf(beta)), 15);
        }
    }

    [Fact]
    public void AverageFrom_SkipsTheBurnIn()
    {
        // Averaging from ℓₐ = 2: p̄ follows the iterate until step 2, then averages iterates 2, 3.
        var beta = Beta(0);
        var sga = new Sga([("beta", beta)], new SgaOptions(0.25, AverageFrom: 2));
        double[] averages = [0.5, 0.75, (0.75 + 0.875) / 2];
        foreach (double expected in averages)
        {
            sga.Step(Grad(beta));
            Assert.Equal(expected, Value(sga.AverageOf(beta)), 15);
        }
    }

    [Fact]
    public void WithInverseSqrtDecay_MatchesAHandWrittenLoop()
    {
        // τ_ℓ = τ₀/(1 + √(ℓ/ℓ₀)), τ₀ = 0.4, ℓ₀ = 3; β̃ ← β̃ − τ_ℓ·2(β̃ − 1); β̄ = mean of β̃_0 … β̃_ℓ.
        var beta = Beta(-2);
        var sga = new Sga([("beta", beta)], new SgaOptions(0.4));
        var schedule = new InverseSqrtDecayLr(sga, l0: 3);
        double b = -2, sum = -2;
        for (int l = 0; l < 20; l++)
        {
            double tau = 0.4 / (1 + Math.Sqrt(l / 3.0));
            b -= tau * 2 * (b - 1);
            sum += b;
            sga.Step(Grad(beta));
            schedule.Step();
            Assert.Equal(b, Value(beta), 14);
            Assert.Equal(sum / (l + 2), Value(sga.AverageOf(beta)), 14);
        }
    }

    [Fact]
    public void SwapAverage_ExchangesIterateAndAverageInPlace()
    {
        var beta = Beta(0);
        var sga = new Sga([("beta", beta)], new SgaOptions(0.25));
        for (int l = 0; l < 3; l++) sga.Step(Grad(beta));

        double seen = double.NaN;
        sga.UseAverage(() => seen = Value(beta));
        Assert.Equal(17.0 / 32, seen, 15);
        Assert.Equal(0.875, Value(beta));
        Assert.False(sga.HoldsAverage);

        sga.SwapAverage();
        Assert.True(sga.HoldsAverage);
        Assert.Equal(17.0 / 32, Value(beta), 15);
        Assert.Equal(17.0 / 32, Value(sga.Averages[0].Value), 15);
        Assert.Throws<InvalidOperationException>(() => sga.Step(Grad(beta)));
        Assert.Throws<InvalidOperationException>(() => sga.StateDict());
        sga.SwapAverage();
        Assert.Equal(0.875, Value(beta));
        Assert.Equal(17.0 / 32, Value(sga.AverageOf(beta)), 15);
    }

    [Fact]
    public void ParameterWithoutGradient_StaysPutButItsAverageStillCounts()
    {
        var beta = Beta(0);
        var other = Tensor.FromArray([4.0f]).RequireGrad();
        var sga = new Sga([("beta", beta), ("other", other)], new SgaOptions(0.25));
        sga.Step(Grad(beta));
        sga.Step(Grad(beta));
        Assert.Equal(4, Value(other));
        Assert.Equal(4, Value(sga.AverageOf(other)));
        Assert.Equal(2, sga.StateDict()["beta.step"].Item());
        Assert.Equal(0, sga.StateDict()["other.step"].Item());
        Assert.Equal(DType.Float32, sga.AverageOf(other).DType);
    }
}
