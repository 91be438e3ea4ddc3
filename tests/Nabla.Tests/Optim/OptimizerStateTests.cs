using Nabla.Kernels;
using Nabla.Nn;
using Nabla.Optim;

namespace Nabla.Tests.Optim;

/// <summary>
/// Save and restore: 3 steps, StateDict, a fresh optimizer over fresh copies of the parameters, LoadStateDict,
/// 2 more steps — bit for bit the same as 5 steps straight. Plus the checks LoadStateDict makes.
/// </summary>
public class OptimizerStateTests
{
    public static TheoryData<string> Kinds() => ["sgd", "adam", "adamw", "rmsprop", "sga", "sag"];

    private static Optimizer Create(string kind, Tensor w, Tensor b)
    {
        (string, Tensor)[] ps = [("0.weight", w), ("0.bias", b)];
        return kind switch
        {
            "sgd" => new Sgd(ps, new SgdOptions(0.05, Momentum: 0.9, Nesterov: true, WeightDecay: 0.01)),
            "adam" => new Adam(ps, new AdamOptions(0.01, AmsGrad: true)),
            "adamw" => new AdamW(ps, new AdamWOptions(0.01)),
            "rmsprop" => new RmsProp(ps, new RmsPropOptions(0.01, Momentum: 0.5, Centered: true)),
            "sga" => new Sga(ps, new SgaOptions(0.05)),
            "sag" => new Sag(ps, new SagOptions(0.05, SampleCount: 3)),
            _ => throw new ArgumentException(kind),
        };
    }

    /// <summary>Step k uses rows k mod 3 and (k+1) mod 3 of the golden problem, so SAG sees sample k mod 3.</summary>
    private static void Run(Optimizer optimizer, Tensor w, Tensor b, int from, int to)
    {
        var x = OptimGolden.Load("x", DType.Float32);
        var y = OptimGolden.Load("y", DType.Float32);
        for (int k = from; k < to; k++)
        {
            int i = k % 3;
            var grads = OptimGolden.Loss(x.Narrow(0, 2 * i, 2), y.Narrow(0, 2 * i, 2), w, b).Backward();
            if (optimizer is Sag sag) sag.Step(grads, i);
            else optimizer.Step(grads);
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ThreeStepsSavedAndRestoredThenTwo_EqualsFiveStraight(string kind)
    {
        var (w1, b1) = OptimGolden.Parameters(DType.Float32);
        var straight = Create(kind, w1, b1);
        Run(straight, w1, b1, 0, 5);

        var (w2, b2) = OptimGolden.Parameters(DType.Float32);
        var first = Create(kind, w2, b2);
        Run(first, w2, b2, 0, 3);
        var state = first.StateDict();
        Assert.Equal(3, state["step"].Item());

        var (w3, b3) = OptimGolden.Parameters(DType.Float32);
        w3.CopyFrom(w2);
        b3.CopyFrom(b2);
        var resumed = Create(kind, w3, b3);
        resumed.LoadStateDict(state);
        Assert.Equal(3, resumed.Steps);
        Run(first, w2, b2, 3, 4); // the saved state is a snapshot: stepping the original does not change it
        Run(resumed, w3, b3, 3, 5);

        Assert.Equal(5, resumed.Steps);
        Assert.Equal(w1.ToArray<float>(), w3.ToArray<float>());
        Assert.Equal(b1.ToArray<float>(), b3.ToArray<float>());
        var expected = straight.StateDict();
        var actual = resumed.StateDict();
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, value) in expected) Assert.Equal(value.ToArray<double>(), actual[name].ToArray<double>());
    }

    [Fact]
    public void StateDict_NamesBuffersAfterTheirParameters()
    {
        var model = new Sequential(new Linear(Tensor.Ones(2, 3), Tensor.Zeros(2)), new Linear(Tensor.Ones(1, 2), null));
        var adam = new Adam(model.NamedParameters(), new AdamOptions(AmsGrad: true));
        string[] expected =
        [
            "step", "lr",
            "0.weight.step", "0.weight.exp_avg", "0.weight.exp_avg_sq", "0.weight.max_exp_avg_sq",
            "0.bias.step", "0.bias.exp_avg", "0.bias.exp_avg_sq", "0.bias.max_exp_avg_sq",
            "1.weight.step", "1.weight.exp_avg", "1.weight.exp_avg_sq", "1.weight.max_exp_avg_sq",
        ];
        Assert.Equal(expected.Order(), adam.StateDict().Keys.Order());
        Assert.Equal([2, 3], adam.StateDict()["0.weight.exp_avg"].Shape);
        Assert.Equal(["step", "lr", "0.weight.step", "0.weight.momentum_buffer", "0.bias.step", "0.bias.momentum_buffer", "1.weight.step", "1.weight.momentum_buffer"],
            new Sgd(model.NamedParameters(), new SgdOptions(0.1, Momentum: 0.9)).StateDict().Keys);
    }

    [Fact]
    public void LoadStateDict_RejectsMismatchedState()
    {
        var (w, b) = OptimGolden.Parameters(DType.Float32);
        var adam = new Adam([("weight", w), ("bias", b)]);
        var good = adam.StateDict();

        var missing = good.Where(kv => kv.Key != "bias.exp_avg").ToDictionary();
        var e1 = Assert.Throws<InvalidDataException>(() => adam.LoadStateDict(missing));
        Assert.Contains("missing: [bias.exp_avg]", e1.Message);

        var extra = good.ToDictionary();
        extra["bias.max_exp_avg_sq"] = Tensor.Zeros(3);
        var e2 = Assert.Throws<InvalidDataException>(() => adam.LoadStateDict(extra));
        Assert.Contains("unexpected: [bias.max_exp_avg_sq]", e2.Message);

        var shape = good.ToDictionary();
        shape["weight.exp_avg"] = Tensor.Zeros(4, 3);
        var e3 = Assert.Throws<InvalidDataException>(() => adam.LoadStateDict(shape));
        Assert.Contains("'weight.exp_avg' has shape [4, 3]", e3.Message);

        var dtype = good.ToDictionary();
        dtype["weight.exp_avg_sq"] = Tensor.Zeros([3, 4], DType.Float64);
        var e4 = Assert.Throws<InvalidDataException>(() => adam.LoadStateDict(dtype));
        Assert.Contains("'weight.exp_avg_sq' has dtype Float64", e4.Message);

        // A failed load changes nothing; the good state still loads.
        adam.LoadStateDict(good);
        Assert.Equal(0, adam.Steps);
    }

    [Fact]
    public void LoadStateDict_RestoresTheLearningRate()
    {
        var (w, b) = OptimGolden.Parameters(DType.Float32);
        var a = new Sgd([("weight", w), ("bias", b)], new SgdOptions(0.1)) { LearningRate = 0.025 };
        var c = new Sgd([("weight", w), ("bias", b)], new SgdOptions(0.1));
        c.LoadStateDict(a.StateDict());
        Assert.Equal(0.025, c.LearningRate);
    }
}
