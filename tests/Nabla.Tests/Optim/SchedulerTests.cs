using System.Text.Json;
using Nabla.Kernels;
using Nabla.Optim;

namespace Nabla.Tests.Optim;

/// <summary>
/// Learning-rate schedules: PyTorch's StepLR, ExponentialLR, CosineAnnealingLR and LinearLR sequences from
/// Golden/optim.json, the seeds' decays (001 §17.1.3–17.1.4) against hand values, composition and state.
/// </summary>
public class SchedulerTests
{
    private static Sgd Optimizer(double lr) => new([("p", Tensor.Zeros(1).RequireGrad())], new SgdOptions(lr));

    /// <summary>The learning rate at counters 0 … count−1: once on construction, then after each Step.</summary>
    private static double[] Rates(LrScheduler scheduler, int count)
    {
        var rates = new double[count];
        rates[0] = scheduler.Optimizer.LearningRate;
        for (int e = 1; e < count; e++)
        {
            scheduler.Step();
            Assert.Equal(e, scheduler.LastEpoch);
            rates[e] = scheduler.Optimizer.LearningRate;
        }
        return rates;
    }

    public static TheoryData<string> GoldenSchedules()
    {
        var data = new TheoryData<string>();
        foreach (var s in OptimGolden.Schedulers) data.Add(s.GetProperty("name").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(GoldenSchedules))]
    public void Schedule_MatchesPyTorch(string name)
    {
        JsonElement s = OptimGolden.Schedulers.Single(e => e.GetProperty("name").GetString() == name);
        JsonElement o = s.GetProperty("options");
        var optimizer = Optimizer(s.GetProperty("base_lr").GetDouble());
        LrScheduler scheduler = name switch
        {
            "step_lr" => new StepLr(optimizer, o.GetProperty("StepSize").GetInt32(), o.GetProperty("Gamma").GetDouble()),
            "exponential_lr" => new ExponentialLr(optimizer, o.GetProperty("Gamma").GetDouble()),
            "cosine_annealing_lr" => new CosineAnnealingLr(optimizer, o.GetProperty("TMax").GetInt32(), o.GetProperty("EtaMin").GetDouble()),
            "linear_warmup" => new WarmupLr(optimizer, o.GetProperty("WarmupSteps").GetInt32(), o.GetProperty("StartFactor").GetDouble()),
            _ => throw new InvalidDataException($"optim.json: unknown scheduler '{name}'"),
        };
        double[] expected = OptimGolden.Numbers(s.GetProperty("lrs"));
        OptimizerGoldenTests.AssertClose(expected, Rates(scheduler, expected.Length), 1e-13, 1e-16, name);
    }

    [Fact]
    public void InverseDecay_IsTauZeroOverOnePlusEllOverEllZero()
    {
        // 001 eq. 17.8 with τ₀ = 1, ℓ₀ = 2: τ_ℓ = 2/(2 + ℓ).
        double[] rates = Rates(new InverseDecayLr(Optimizer(1), l0: 2), 6);
        OptimizerGoldenTests.AssertClose([1, 2.0 / 3, 1.0 / 2, 2.0 / 5, 1.0 / 3, 2.0 / 7], rates, 1e-15, 0, "InverseDecayLr");
    }

    [Fact]
    public void InverseSqrtDecay_IsTauZeroOverOnePlusRootEllOverEllZero()
    {
        // 001 §17.1.4 with τ₀ = 1, ℓ₀ = 2: τ_ℓ = 1/(1 + √(ℓ/2)); ℓ = 2, 8, 18 give 1/2, 1/3, 1/4.
        double[] rates = Rates(new InverseSqrtDecayLr(Optimizer(1), l0: 2), 19);
        Assert.Equal(1, rates[0], 15);
        Assert.Equal(1 / (1 + Math.Sqrt(0.5)), rates[1], 15);
        Assert.Equal(1.0 / 2, rates[2], 15);
        Assert.Equal(1.0 / 3, rates[8], 15);
        Assert.Equal(1.0 / 4, rates[18], 15);
        // τ₀ scales the whole schedule.
        Assert.Equal(0.3 / 4, Rates(new InverseSqrtDecayLr(Optimizer(0.3), l0: 2), 19)[18], 15);
    }

    [Fact]
    public void Warmup_ThenCosine_RampsLinearlyThenAnneals()
    {
        var optimizer = Optimizer(1);
        var scheduler = new WarmupLr(optimizer, warmupSteps: 3, then: new CosineAnnealingLr(optimizer, tMax: 4));
        double[] rates = Rates(scheduler, 9);
        double[] expected = [0, 1.0 / 3, 2.0 / 3, 1, (1 + Math.Cos(Math.PI / 4)) / 2, 0.5, (1 + Math.Cos(3 * Math.PI / 4)) / 2, 0, (1 + Math.Cos(5 * Math.PI / 4)) / 2];
        OptimizerGoldenTests.AssertClose(expected, rates, 1e-14, 1e-15, "WarmupLr then CosineAnnealingLr");
        Assert.Equal(1, scheduler.BaseLearningRate);
    }

    [Fact]
    public void Warmup_RejectsAScheduleOfAnotherOptimizer()
    {
        var other = new ExponentialLr(Optimizer(1), 0.5);
        Assert.Throws<ArgumentException>(() => new WarmupLr(Optimizer(1), 3, then: other));
    }

    [Fact]
    public void StateDict_RestoresCounterBaseRateAndOptimizerRate()
    {
        var a = new StepLr(Optimizer(0.1), stepSize: 2, gamma: 0.5);
        for (int i = 0; i < 5; i++) a.Step();
        var state = a.StateDict();

        var optimizer = Optimizer(123); // a different starting rate: the saved base rate wins
        var b = new StepLr(optimizer, stepSize: 2, gamma: 0.5);
        b.LoadStateDict(state);
        Assert.Equal(5, b.LastEpoch);
        Assert.Equal(0.1, b.BaseLearningRate);
        Assert.Equal(a.Optimizer.LearningRate, optimizer.LearningRate);
        a.Step();
        b.Step();
        Assert.Equal(a.Optimizer.LearningRate, optimizer.LearningRate);
    }

    [Fact]
    public void StateDict_OfWarmupCarriesItsBaseRateToTheScheduleAfter()
    {
        var a = Optimizer(0.5);
        var warmupA = new WarmupLr(a, 2, then: new ExponentialLr(a, 0.5));
        for (int i = 0; i < 4; i++) warmupA.Step();

        var b = Optimizer(7);
        var warmupB = new WarmupLr(b, 2, then: new ExponentialLr(b, 0.5));
        warmupB.LoadStateDict(warmupA.StateDict());
        Assert.Equal(0.5 * 0.25, b.LearningRate, 15);
        Assert.Equal(0.5, warmupB.Then!.BaseLearningRate);
    }

    [Fact]
    public void LoadStateDict_RejectsMissingAndMalformedEntries()
    {
        var s = new ExponentialLr(Optimizer(1), 0.9);
        var missing = Assert.Throws<InvalidDataException>(() => s.LoadStateDict(new Dictionary<string, Tensor> { ["last_epoch"] = Tensor.Scalar(3, DType.Int64) }));
        Assert.Contains("base_lr", missing.Message);
        var negative = Assert.Throws<InvalidDataException>(() => s.LoadStateDict(new Dictionary<string, Tensor>
        {
            ["last_epoch"] = Tensor.Scalar(-1, DType.Int64),
            ["base_lr"] = Tensor.Scalar(1, DType.Float64),
        }));
        Assert.Contains("last_epoch", negative.Message);
    }

    [Fact]
    public void Constructors_RejectInvalidArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepLr(Optimizer(1), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineAnnealingLr(Optimizer(1), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new InverseDecayLr(Optimizer(1), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new InverseSqrtDecayLr(Optimizer(1), -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WarmupLr(Optimizer(1), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WarmupLr(Optimizer(1), 2, startFactor: 1.5));
    }
}
