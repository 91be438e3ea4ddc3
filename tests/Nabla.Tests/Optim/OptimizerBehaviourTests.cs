using Nabla.Autodiff;
using Nabla.Kernels;
using Nabla.Optim;

namespace Nabla.Tests.Optim;

/// <summary>Skipping parameters without gradients, gradient layouts and dtypes, long parameters, argument checks.</summary>
public class OptimizerBehaviourTests
{
    [Fact]
    public void ParameterWithoutGradient_IsSkippedWithItsState()
    {
        var (w, b) = OptimGolden.Parameters(DType.Float32);
        var unused = Tensor.FromArray([1f, 2f]).RequireGrad();
        var adam = new Adam([("weight", w), ("bias", b), ("unused", unused)], new AdamOptions(0.1, WeightDecay: 0.5));
        var x = OptimGolden.Load("x", DType.Float32);
        var y = OptimGolden.Load("y", DType.Float32);
        var before = w.ToArray<float>();
        adam.Step(OptimGolden.Loss(x, y, w, b).Backward());

        Assert.NotEqual(before, w.ToArray<float>());
        Assert.Equal([1f, 2f], unused.ToArray<float>()); // weight decay does not touch it either, as in PyTorch
        var state = adam.StateDict();
        Assert.Equal(1, state["weight.step"].Item());
        Assert.Equal(0, state["unused.step"].Item());
        Assert.Equal([0.0, 0.0], state["unused.exp_avg"].ToArray<double>());
        Assert.Equal(1, adam.Steps);
    }

    [Fact]
    public void LargeParameters_UpdateIdenticallyOnOneTwoAndThreeThreads()
    {
        // 300×301 elements: past the size where updates are split across threads, with a ragged last part (and with
        // three threads, parts whose ends are not thirds).
        float[] Train(int threads, Func<IEnumerable<(string, Tensor)>, Optimizer> make)
        {
            var device = Device.CpuWithThreads(threads);
            var g = new Generator(9);
            var w = Tensor.Randn([300, 301], g).ToDevice(device).RequireGrad();
            var target = Tensor.Randn([300, 301], g).ToDevice(device);
            var optimizer = make([("w", w)]);
            for (int i = 0; i < 3; i++) optimizer.Step((w - target).Square().Sum().Backward());
            return w.ToArray<float>();
        }
        Func<IEnumerable<(string, Tensor)>, Optimizer>[] makers =
        [
            ps => new Sgd(ps, new SgdOptions(0.01, Momentum: 0.9, Nesterov: true)),
            ps => new Adam(ps, new AdamOptions(0.01, AmsGrad: true)),
            ps => new RmsProp(ps, new RmsPropOptions(0.01, Momentum: 0.5, Centered: true)),
            ps => new RmsProp(ps, new RmsPropOptions(0.01, Centered: true)),   // first and third state buffers only
            ps => new Adam(ps, new AdamOptions(0.01)),
        ];
        foreach (var make in makers)
        {
            var one = Train(1, make);
            Assert.Equal(one, Train(2, make));
            Assert.Equal(one, Train(3, make));
            Assert.NotEqual(Train(1, ps => new Sgd(ps, new SgdOptions(0.0))), one);   // the runs did move
        }
    }

    [Fact]
    public void AdamBiasCorrection_UsesEachParametersOwnUpdateCount()
    {
        // A parameter first updated at the optimizer's second step gets the t = 1 update: |Δp| = τ (for |g| ≫ ε).
        var p = Tensor.FromArray([0.0]).RequireGrad();
        var q = Tensor.FromArray([0.0]).RequireGrad();
        var adam = new Adam([("p", p), ("q", q)], new AdamOptions(0.1));
        adam.Step(p.Sum().Backward());
        adam.Step((p + 3 * q).Sum().Backward());
        Assert.Equal(-0.1, q.ToArray<double>()[0], 7); // ε = 1e-8 shifts the 8th digit
        Assert.Equal(-0.2, p.ToArray<double>()[0], 7);
    }

    [Fact]
    public void NonContiguousGradient_GivesTheSameStepAsItsContiguousCopy()
    {
        var values = Enumerable.Range(0, 12).Select(i => (float)Math.Sin(i)).ToArray();
        var transposed = Tensor.FromArray(values, 4, 3).T; // [3, 4], not contiguous
        Assert.False(transposed.IsContiguous);
        var contiguous = Tensor.FromArray(transposed.ToArray<float>(), 3, 4);

        var p1 = Tensor.Ones(3, 4).RequireGrad();
        var p2 = Tensor.Ones(3, 4).RequireGrad();
        var o1 = new Sgd([("p", p1)], new SgdOptions(0.1, Momentum: 0.9));
        var o2 = new Sgd([("p", p2)], new SgdOptions(0.1, Momentum: 0.9));
        for (int i = 0; i < 2; i++)
        {
            o1.Step(new Gradients(new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance) { [p1] = transposed }));
            o2.Step(new Gradients(new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance) { [p2] = contiguous }));
        }
        Assert.Equal(p2.ToArray<float>(), p1.ToArray<float>());
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void LongParameter_VectorBodyAndTailFollowTheScalarRule(DType dtype)
    {
        // 1000 + 3 elements: many full vectors and a partial one; AdamW against the scalar formula in double.
        const int n = 1003;
        var p0 = Enumerable.Range(0, n).Select(i => Math.Cos(0.37 * i)).ToArray();
        var g0 = Enumerable.Range(0, n).Select(i => Math.Sin(0.11 * i) + 0.05).ToArray();
        var p = Tensor.FromArray(p0).To(dtype).Detach().RequireGrad();
        var g = Tensor.FromArray(g0).To(dtype);
        var opt = new AdamW([("p", p)], new AdamWOptions(0.01, WeightDecay: 0.1, AmsGrad: true));
        for (int t = 0; t < 3; t++) opt.Step(new Gradients(new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance) { [p] = g }));

        double tol = dtype == DType.Float32 ? 1e-6 : 1e-14;
        var actual = p.ToArray<double>();
        for (int i = 0; i < n; i++)
        {
            double x = dtype == DType.Float32 ? (float)p0[i] : p0[i], gi = dtype == DType.Float32 ? (float)g0[i] : g0[i];
            double m = 0, v = 0, vMax = 0;
            for (int t = 1; t <= 3; t++)
            {
                x *= 1 - 0.01 * 0.1;
                m = 0.9 * m + 0.1 * gi;
                v = 0.999 * v + 0.001 * gi * gi;
                vMax = Math.Max(vMax, v);
                x -= 0.01 / (1 - Math.Pow(0.9, t)) * m / (Math.Sqrt(vMax) / Math.Sqrt(1 - Math.Pow(0.999, t)) + 1e-8);
            }
            Assert.True(Math.Abs(actual[i] - x) <= tol, $"element {i}: expected {x}, got {actual[i]}");
        }
    }

    [Fact]
    public void Float64GradientForFloat32Parameter_IsConverted()
    {
        var p = Tensor.Ones(5).RequireGrad();
        var sgd = new Sgd([("p", p)], new SgdOptions(0.5));
        sgd.Step(new Gradients(new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance) { [p] = Tensor.Full([5], 1, DType.Float64) }));
        Assert.Equal([0.5f, 0.5f, 0.5f, 0.5f, 0.5f], p.ToArray<float>());
    }

    [Fact]
    public void Constructor_RejectsBadParameterListsAndOptions()
    {
        var p = Tensor.Ones(2).RequireGrad();
        Assert.Throws<ArgumentException>(() => new Sgd([], new SgdOptions(0.1)));
        Assert.Throws<ArgumentException>(() => new Sgd([("a", p), ("a", Tensor.Ones(2))], new SgdOptions(0.1)));
        Assert.Throws<ArgumentException>(() => new Sgd([("a", p), ("b", p)], new SgdOptions(0.1)));
        Assert.Throws<ArgumentException>(() => new Sgd([("a", Tensor.FromArray(new long[] { 1, 2 }))], new SgdOptions(0.1)));
        Assert.Throws<ArgumentException>(() => new Sgd([("a", Tensor.Ones(2, 3).T)], new SgdOptions(0.1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd([("a", p)], new SgdOptions(-1)));
        Assert.Throws<ArgumentException>(() => new Sgd([("a", p)], new SgdOptions(0.1, Nesterov: true)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam([("a", p)], new AdamOptions(Beta1: 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp([("a", p)], new RmsPropOptions(Momentum: -0.1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sag([("a", p)], new SagOptions(0.1, SampleCount: 0)));
        var sgd = new Sgd([("a", p)], new SgdOptions(0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => sgd.LearningRate = double.NaN);
    }

    [Fact]
    public void GradientOfTheWrongShape_Throws()
    {
        var p = Tensor.Ones(2).RequireGrad();
        var sgd = new Sgd([("p", p)], new SgdOptions(0.1));
        var e = Assert.Throws<ArgumentException>(() => sgd.Step(new Gradients(new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance) { [p] = Tensor.Ones(3) })));
        Assert.Contains("'p'", e.Message);
    }
}
