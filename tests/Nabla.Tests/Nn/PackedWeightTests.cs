using Nabla.Autodiff;
using Nabla.Nn;
using Nabla.Optim;
using Xunit;

namespace Nabla.Tests.Nn;

/// <summary>
/// Batch-1 inference through <see cref="Linear"/> reads a packed copy of the weight kept on its storage (the CPU
/// backend's WeightPanels). The copy must never be stale: every way a weight is written (CopyFrom, an optimizer's
/// step) is followed by a call whose result is checked against the product computed here in double precision.
/// </summary>
public class PackedWeightTests
{
    private const int In = 300, Out = 70;

    private static (Linear Layer, Tensor X) Setup()
    {
        var g = new Generator(5);
        return (new Linear(In, Out, g), Tensor.Randn([1, In], g));
    }

    /// <summary>x·Wᵀ + b from the tensors' current values, in double.</summary>
    private static double[] Expected(Linear layer, Tensor x)
    {
        float[] w = layer.Weight.ToArray<float>(), b = layer.Bias!.ToArray<float>(), xs = x.ToArray<float>();
        var y = new double[Out];
        for (int j = 0; j < Out; j++)
        {
            double s = b[j];
            for (int d = 0; d < In; d++) s += (double)w[j * In + d] * xs[d];
            y[j] = s;
        }
        return y;
    }

    private static float[] Infer(Linear layer, Tensor x)
    {
        using (Autograd.NoGrad()) return layer.Forward(x, Mode.Eval).ToArray<float>();
    }

    private static void AssertMatches(double[] expected, float[] actual, string when)
    {
        for (int j = 0; j < expected.Length; j++)
            Assert.True(Math.Abs(actual[j] - expected[j]) <= 1e-5 * (1 + Math.Abs(expected[j])), $"{when}: y[{j}] = {actual[j]}, expected {expected[j]}");
    }

    [Fact]
    public void Inference_keeps_one_packed_copy_and_repeats_its_bits()
    {
        var (layer, x) = Setup();
        float[] first = Infer(layer, x);
        object? packed = layer.Weight.Storage.Derived;
        Assert.NotNull(packed);
        float[] second = Infer(layer, x);
        Assert.Same(packed, layer.Weight.Storage.Derived);
        Assert.Equal(first, second);
        AssertMatches(Expected(layer, x), second, "second call");
    }

    [Fact]
    public void Recorded_products_do_not_pack()
    {
        var (layer, x) = Setup();
        var y = layer.Forward(x, Mode.Eval);
        Assert.Null(layer.Weight.Storage.Derived);
        AssertMatches(Expected(layer, x), y.ToArray<float>(), "with autograd on");
    }

    [Fact]
    public void CopyFrom_into_the_weight_is_seen_by_the_next_call()
    {
        var (layer, x) = Setup();
        float[] before = Infer(layer, x);
        layer.Weight.CopyFrom(Tensor.Randn([Out, In], new Generator(9)));
        float[] after = Infer(layer, x);
        Assert.NotEqual(before, after);
        AssertMatches(Expected(layer, x), after, "after CopyFrom");
    }

    [Fact]
    public void An_optimizer_step_is_seen_by_the_next_call()
    {
        var (layer, x) = Setup();
        var optimizer = new Sgd(layer.NamedParameters(), new SgdOptions(LearningRate: 0.5, Momentum: 0.9));
        float[] before = Infer(layer, x);
        for (int step = 0; step < 2; step++)
        {
            var loss = layer.Forward(x, Mode.Train(new Generator(1))).Square().Sum();
            using (var grads = loss.Backward()) optimizer.Step(grads);
            float[] after = Infer(layer, x);
            Assert.NotEqual(before, after);
            AssertMatches(Expected(layer, x), after, $"after step {step + 1}");
            before = after;
        }
    }

    /// <summary>
    /// Two layers on the two halves of one tensor (one storage, two views of the same shape): each keeps its own packed
    /// copy, so neither reads the other's weights and alternating calls pack nothing again.
    /// </summary>
    [Fact]
    public void Layers_sharing_a_storage_keep_a_copy_each()
    {
        var g = new Generator(4);
        var both = Tensor.Randn([2 * Out, In], g);
        var first = new Linear(both.Narrow(0, 0, Out), Tensor.Zeros([Out]));
        var second = new Linear(both.Narrow(0, Out, Out), Tensor.Randn([Out], g));
        var x = Tensor.Randn([1, In], g);
        Infer(first, x);
        Infer(second, x);
        var kept = (object[])first.Weight.Storage.Derived!;
        Assert.Equal(2, kept.Length);
        for (int call = 0; call < 2; call++)
        {
            AssertMatches(Expected(first, x), Infer(first, x), $"first layer, call {call}");
            AssertMatches(Expected(second, x), Infer(second, x), $"second layer, call {call}");
        }
        Assert.Same(kept, first.Weight.Storage.Derived);
    }

    [Fact]
    public void A_layer_built_on_a_callers_tensor_sees_the_callers_writes()
    {
        var g = new Generator(3);
        var weight = Tensor.Randn([Out, In], g);
        var layer = new Linear(weight, Tensor.Zeros([Out]));
        var x = Tensor.Randn([1, In], g);
        Infer(layer, x);
        weight.CopyFrom(Tensor.Randn([Out, In], g));   // the layer's weight shares this storage (Detach)
        AssertMatches(Expected(layer, x), Infer(layer, x), "after the caller's write");
    }
}
