using Nabla.Autodiff;
using Nabla.Kernels.Cpu;
using Nabla.Nn;

namespace Nabla.Tests.Nn;

/// <summary>
/// Sequential hands its intermediate results back to the buffer pool during inference (see <see cref="Sequential.Forward"/>):
/// the memory is reused at once, and nothing anyone can still read is ever handed out.
/// </summary>
public class SequentialTests
{
    // [128, 512] float = 256 KiB: pooled (the pool holds buffers of 16 KiB and more).
    private const int Rows = 128, Width = 512;

    private static (Sequential Model, Tensor X) Setup(params Module[] extra)
    {
        var g = new Generator(11);
        var model = new Sequential([new Linear(64, Width, g), new ReLU(), .. extra, new Linear(Width, Width, g)]);
        return (model, Tensor.Randn([Rows, 64], g));
    }

    /// <summary>The same layers one by one, with autograd on (no recycling).</summary>
    private static float[] Reference(Sequential model, Tensor x)
    {
        var h = x;
        foreach (var layer in model.Layers) h = layer.Forward(h, Mode.Eval);
        return h.ToArray<float>();
    }

    /// <summary>
    /// Two calls on a device whose buffer pool nothing else has used, with no collection in between (the pair is retried
    /// until none ran), so that a buffer the second call reuses can only have been handed back by the first: no buffer
    /// freed by an earlier collection is waiting in the pool. Returns the second call's (fresh allocations, reuses) and
    /// both results.
    /// </summary>
    private static (long Fresh, long Reuses, float[] First, float[] Second) TwoCalls(Sequential model, Tensor input)
    {
        (long, long, float[], float[]) result = default;
        NoCollection.Retry(() =>
        {
            var device = Device.CpuOfItsOwn(1);
            var pool = ((CpuBackend)device.Backend).Pool;
            var x = input.ToDevice(device);
            int collections = GC.CollectionCount(0);
            var first = model.Forward(x);
            long fresh = pool.FreshAllocations, reuses = pool.Reuses;
            var second = model.Forward(x);
            (long, long) counts = (pool.FreshAllocations - fresh, pool.Reuses - reuses);
            if (GC.CollectionCount(0) != collections) return false;
            result = (counts.Item1, counts.Item2, first.ToArray<float>(), second.ToArray<float>());
            return true;
        }, during: "between the two calls");
        return result;
    }

    [Fact]
    public void Inference_reuses_intermediate_buffers_at_once_and_keeps_its_result()
    {
        var (model, x) = Setup();
        var expected = Reference(model, x);
        using var noGrad = Autograd.NoGrad();
        var (fresh, reuses, first, second) = TwoCalls(model, x);
        // The first Linear and its ReLU are one product here (see the next test): its output takes the buffer the first
        // call handed back; the last layer's output (the result) needs a new one, since the first call's result is
        // still the caller's.
        Assert.Equal(1, reuses);
        Assert.Equal(1, fresh);
        Assert.Equal(expected, first);
        Assert.Equal(expected, second);
    }

    /// <summary>
    /// In inference a Linear and the ReLU after it run as one product that rectifies as it goes (one buffer, not two),
    /// with the values of the two ops; a Linear without bias takes the two ops.
    /// </summary>
    [Fact]
    public void A_Linear_and_its_ReLU_are_one_product_in_inference()
    {
        var g = new Generator(12);
        var x = Tensor.Randn([Rows, 64], g).ToDevice(Device.CpuOfItsOwn(1));
        var fused = new Sequential(new Linear(64, Width, g), new ReLU());
        var plain = new Sequential(new Linear(64, Width, g, bias: false), new ReLU());
        var pool = ((CpuBackend)x.Device.Backend).Pool;
        foreach (var model in new[] { fused, plain })
        {
            var expected = Reference(model, x);
            long rented = pool.FreshAllocations + pool.Reuses;
            float[] actual;
            using (Autograd.NoGrad()) actual = model.Forward(x).ToArray<float>();
            Assert.Equal(expected, actual);
            Assert.Equal(model == fused ? 1 : 2, pool.FreshAllocations + pool.Reuses - rented);
            Assert.Contains(0f, actual);   // something was rectified
        }
    }

    /// <summary>
    /// With autograd recording, and with forward-mode tangents, the pair is one graph node too: the same values,
    /// gradients and tangents, bit for bit, as the two layers called one by one.
    /// </summary>
    [Fact]
    public void A_Linear_and_its_ReLU_are_one_node_in_training()
    {
        var g = new Generator(13);
        var model = new Sequential(new Linear(64, Width, g), new ReLU(), new Linear(Width, 10, g), new ReLU());
        var x = Tensor.Randn([Rows, 64], g).RequireGrad();

        var (y, layerByLayer, _, tangent) = SameAsLayerByLayer(model, x, g);
        Assert.Equal("LinearRelu", y.Node!.Name);
        Assert.Equal("LinearRelu", y.Node.Inputs[0].Node!.Name);
        Assert.Equal("Relu", layerByLayer.Node!.Name);
        Assert.Contains(0f, tangent);
    }

    /// <summary>
    /// Runs <paramref name="model"/> on <paramref name="x"/> (which requires grad) and its layers one by one, and checks
    /// that the two agree bit for bit: values, gradients of x and of the parameters, and forward-mode tangents. Returns
    /// the model's output, the layers' output, x's gradient and the tangent.
    /// </summary>
    private static (Tensor Y, Tensor LayerByLayer, float[] InputGradient, float[] Tangent) SameAsLayerByLayer(Sequential model, Tensor x, Generator g)
    {
        var y = model.Forward(x, Mode.Train(g));
        var layerByLayer = x;
        foreach (var layer in model.Layers) layerByLayer = layer.Forward(layerByLayer, Mode.Train(g));
        Assert.Equal(layerByLayer.ToArray<float>(), y.ToArray<float>());
        Assert.Contains(0f, y.ToArray<float>());

        var weights = Tensor.Randn(y.Shape, g);
        var whole = (y * weights).Sum().Backward();
        var layers = (layerByLayer * weights).Sum().Backward();
        foreach (var p in model.Parameters().Append(x))
            Assert.Equal(layers.Of(p).ToArray<float>(), whole.Of(p).ToArray<float>());

        var v = Tensor.Randn(x.Shape, g);
        var (_, tangent) = Autograd.Jvp(t => model.Forward(t), x.Detach(), v);
        var (_, expected) = Autograd.Jvp(t => model.Layers.Aggregate(t, (h, layer) => layer.Forward(h, Mode.Eval)), x.Detach(), v);
        Assert.Equal(expected.ToArray<float>(), tangent.ToArray<float>());
        Assert.Contains(tangent.ToArray<float>(), t => t != 0);
        return (y, layerByLayer, whole.Of(x).ToArray<float>(), tangent.ToArray<float>());
    }

    /// <summary>
    /// A ReLU followed by a MaxPool2d runs after the pooling (see <see cref="Sequential.Forward"/>), with the values,
    /// gradients and tangents of the layers one by one. The input is drawn from a few values so that windows hold ties,
    /// zeros and nothing positive; the second pair pools overlapping, padded windows, where one element can win twice.
    /// </summary>
    [Fact]
    public void A_ReLU_before_a_MaxPool2d_runs_after_it_with_the_same_values_and_gradients()
    {
        var g = new Generator(14);
        var model = new Sequential(new ReLU(), new MaxPool2d(2), new Conv2d(3, 4, 3, g, padding: 1), new ReLU(), new MaxPool2d(3, stride: 2, padding: 1));
        float[] levels = [-1f, -0.5f, 0f, 0.5f, 1f];
        var x = Tensor.FromArray(Enumerable.Range(0, 5 * 3 * 12 * 12).Select(_ => levels[g.NextInt(levels.Length)]).ToArray(), 5, 3, 12, 12).RequireGrad();

        var (y, layerByLayer, inputGradient, _) = SameAsLayerByLayer(model, x, g);
        Assert.Equal("Relu", y.Node!.Name);
        Assert.Equal("MaxPool2d", y.Node.Inputs[0].Node!.Name);
        Assert.Equal("MaxPool2d", layerByLayer.Node!.Name);
        Assert.Contains(0f, inputGradient);
        Assert.Contains(inputGradient, d => d != 0);

        // In inference the pooled tensor goes back to the buffer pool once rectified; two calls give the same result.
        var input = x.Detach().ToDevice(Device.CpuOfItsOwn(1));
        var reference = Reference(model, input);
        using var noGrad = Autograd.NoGrad();
        Assert.Equal(reference, model.Forward(input).ToArray<float>());
        Assert.Equal(reference, model.Forward(input).ToArray<float>());
    }

    [Fact]
    public void With_autograd_on_nothing_is_handed_back()
    {
        var (model, x) = Setup();
        var (fresh, reuses, _, _) = TwoCalls(model, x);
        Assert.Equal(0, reuses);
        Assert.Equal(2, fresh);   // the first Linear and its ReLU are one product (one node) here too
    }

    [Fact]
    public void The_callers_input_and_a_returned_view_keep_their_memory()
    {
        var g = new Generator(5);
        var device = Device.CpuOfItsOwn(1);
        // Flatten returns a view of its input: the caller's tensor first (never handed back), then ReLU's output
        // viewed by the result (kept, as the result reads it).
        var model = new Sequential(new Flatten(), new Linear(Width, Width, g), new ReLU(), new Flatten());
        var x = Tensor.Randn([Rows, Width], g).ToDevice(device) * 1.0;   // computed, so its buffer is the pool's
        var xValues = x.ToArray<float>();
        var expected = Reference(model, x);
        using var noGrad = Autograd.NoGrad();
        var first = model.Forward(x);
        for (int i = 0; i < 3; i++)
        {
            model.Forward(x);
            _ = Tensor.Randn([Rows, Width], g).ToDevice(device) * 3.0;   // more buffers of the same size
        }
        Assert.Equal(xValues, x.ToArray<float>());
        Assert.Equal(expected, first.ToArray<float>());
    }

    /// <summary>A layer from outside the library that keeps its input: the kind of module that turns recycling off.</summary>
    private sealed class Keep : Module
    {
        public Tensor? Last { get; private set; }

        public override Tensor Forward(Tensor x, Mode mode)
        {
            Last = x;
            return x * 1.0;
        }
    }

    [Fact]
    public void A_layer_from_outside_the_library_turns_recycling_off()
    {
        var keep = new Keep();
        var (model, input) = Setup(keep);
        var x = input.ToDevice(Device.CpuOfItsOwn(1));
        var expected = model.Layers[1].Forward(model.Layers[0].Forward(x)).ToArray<float>();   // what Keep is given
        using (Autograd.NoGrad())
        {
            model.Forward(x);   // the next Linear's output has the size of Keep's input: it would take that buffer
            _ = (x.MatMul(Tensor.Ones([64, Width]).ToDevice(x.Device)) * 2.0).Relu();
        }
        Assert.Equal(expected, keep.Last!.ToArray<float>());

        // Nested, too: the inner Sequential's foreign layer keeps the inner one's input, an intermediate of the outer.
        // Tanh after it (not ReLU, whose repeat would write the same values over a reused buffer).
        var outer = new Sequential(new ReLU(), new Sequential(new Keep(), new Tanh()), new Tanh());
        var inner = (Keep)((Sequential)outer.Layers[1]).Layers[0];
        var big = Tensor.Randn([Rows, Width], new Generator(2)).ToDevice(x.Device);
        var relu = big.Relu().ToArray<float>();
        using (Autograd.NoGrad())
        {
            outer.Forward(big);
            _ = big * 2.0;
        }
        Assert.Equal(relu, inner.Last!.ToArray<float>());
    }
}
