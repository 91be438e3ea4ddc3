using Nabla.Autodiff;
using Nabla.Kernels.Cpu;
using Nabla.Nn;

namespace Nabla.Tests.Autodiff;

/// <summary>
/// A backward pass hands an intermediate gradient's buffer back to the pool once its node's VJP has used it (see
/// Backprop.Run and its Holders), and a ReLU's VJP (alone or fused into Linear) masks such a spent gradient in place:
/// the next gradient of that size takes the buffer while it is still in cache. Nothing anyone can still read is ever
/// handed out: not the seed, a graph tensor, a leaf's gradient, or a cotangent still waiting for its node, even when a
/// VJP passes its cotangent on.
/// </summary>
public class SpentCotangentTests
{
    // [256, 128] float = 128 KiB: pooled (the pool holds buffers of 16 KiB and more).
    private const int Rows = 256, Cols = 128;

    /// <summary>Buffers of the given shape taken from the pool and overwritten: any wrongly handed-back buffer gets clobbered.</summary>
    private static void Clobber(Device device, Generator g, params int[] shape)
    {
        for (int i = 0; i < 6; i++) _ = Tensor.Randn(shape, g).ToDevice(device) * 1e6;
    }

    [Fact]
    public void A_backward_pass_reuses_its_own_spent_gradients()
    {
        NoCollection.Retry(() =>
        {
            var device = Device.CpuOfItsOwn(1);
            var pool = ((CpuBackend)device.Backend).Pool;
            var g = new Generator(1);
            var model = new Sequential(new Linear(Cols, Cols, g), new ReLU(), new Linear(Cols, Cols, g), new ReLU(), new Linear(Cols, Cols, g));
            var x = Tensor.Randn([Rows, Cols], g).ToDevice(device);
            var loss = model.Forward(x, Mode.Train(g)).Square().Sum();
            int collections = GC.CollectionCount(0);
            long reuses = pool.Reuses;
            using var grads = loss.Backward();
            if (GC.CollectionCount(0) != collections) return false;   // a collection could have freed buffers too: retry

            // Each Linear's x̄ becomes the next node's ȳ, which the fused node masks in place and hands back once its
            // products are made: the next gradient of [Rows, Cols] takes it within the pass.
            Assert.True(pool.Reuses - reuses >= 1, $"{pool.Reuses - reuses} reuses");
            return true;
        });
    }

    /// <summary>
    /// y = relu(2a)·3, backward from a seed: Mul's VJP makes ȳ·3 (a buffer of the pool's), which nothing else holds, so
    /// ReLU's node masks it in place (Function.VjpConsuming) and passes it on, and the second Mul's VJP makes a's
    /// gradient: two buffers of [Rows, Cols] taken from the pool, where a mask into a fresh buffer takes three.
    /// </summary>
    [Fact]
    public void A_spent_cotangent_is_masked_in_place()
    {
        NoCollection.Retry(() =>
        {
            var device = Device.CpuOfItsOwn(1);
            var pool = ((CpuBackend)device.Backend).Pool;
            var g = new Generator(5);
            var a = Tensor.Randn([Rows, Cols], g).ToDevice(device).RequireGrad();
            var seed = Tensor.Randn([Rows, Cols], g).ToDevice(device);
            var y = (a * 2.0).Relu() * 3.0;
            int collections = GC.CollectionCount(0);
            long taken = pool.Reuses + pool.FreshAllocations;
            using var grads = y.Backward(seed);
            if (GC.CollectionCount(0) != collections) return false;
            Assert.Equal(2, pool.Reuses + pool.FreshAllocations - taken);
            var s = seed.ToArray<float>();
            var av = a.ToArray<float>();
            var da = grads[a]!.ToArray<float>();
            for (int i = 0; i < s.Length; i++) Assert.Equal(av[i] > 0 ? 6 * s[i] : 0, da[i], 1e-4f);
            return true;
        });
    }

    [Fact]
    public void Gradients_are_the_same_as_computed_without_recycling()
    {
        var g = new Generator(2);
        var device = Device.CpuOfItsOwn(1);
        var model = new Sequential(new Linear(Cols, Cols, g), new ReLU(), new Linear(Cols, Cols, g), new ReLU(), new Linear(Cols, Cols, g));
        var x = Tensor.Randn([Rows, Cols], g).ToDevice(device).RequireGrad();
        var loss = model.Forward(x, Mode.Train(g)).Square().Sum();
        // createGraph keeps every cotangent (they are part of a new graph): the reference values.
        var expected = loss.Backward(createGraph: true);
        var actual = loss.Backward();
        Clobber(device, g, Rows, Cols);
        foreach (var p in model.Parameters().Append(x))
            Assert.Equal(expected.Of(p).ToArray<float>(), actual.Of(p).ToArray<float>());
    }

    /// <summary>
    /// With createGraph the gradients form a new graph that reads the fused node's masked gradient again when it is
    /// differentiated: that buffer is kept, and the second derivatives match the two ops called one by one.
    /// </summary>
    [Fact]
    public void Gradients_in_a_new_graph_keep_what_they_read()
    {
        var g = new Generator(6);
        var device = Device.CpuOfItsOwn(1);
        var model = new Sequential(new Linear(Cols, Cols, g), new ReLU(), new Linear(Cols, 1, g));
        var x = Tensor.Randn([Rows, Cols], g).ToDevice(device).RequireGrad();
        var w = model.Parameters().First();
        // ∂‖∂L/∂W₁‖²/∂x: W₁'s gradient is (masked ȳ)ᵀ·x, whose derivative in x reads the masked ȳ.
        Tensor SecondOrder(Func<Tensor, Tensor> forward)
        {
            var dw = forward(x).Square().Sum().Backward(createGraph: true)[w]!;
            Clobber(device, g, Rows, Cols);
            return dw.Square().Sum().Backward()[x]!;
        }
        var fused = SecondOrder(t => model.Forward(t, Mode.Train(g)));
        var twoOps = SecondOrder(t => model.Layers.Aggregate(t, (h, layer) => layer.Forward(h, Mode.Train(g))));
        Assert.Equal(twoOps.ToArray<float>(), fused.ToArray<float>());
    }

    /// <summary>
    /// out = (h + h.Reshape(…).Reshape(…))·3 + b.Reshape(…)·1 with h = relu(2a): Add's VJP hands the same ȳ to both of
    /// its inputs, so after the first input's node has used it the other still waits for it; Reshape's VJP passes a
    /// view of its ȳ on, and b's gradient is such a view of a spent ȳ. All must survive the pass and what follows it.
    /// </summary>
    [Fact]
    public void Shared_and_passed_on_cotangents_are_kept()
    {
        var device = Device.CpuOfItsOwn(1);
        var g = new Generator(3);
        var a = Tensor.Randn([Rows, Cols], g).ToDevice(device).RequireGrad();
        var b = Tensor.Randn([Rows * Cols], g).ToDevice(device).RequireGrad();
        var h = (a * 2.0).Relu();
        var seed = Tensor.Randn([Rows, Cols], g).ToDevice(device) * 1.0;   // computed, so its buffer is the pool's
        var kept = new[] { a, b, h, seed };
        var values = kept.Select(t => t.ToArray<float>()).ToArray();

        var grads = ((h + h.Reshape(Rows * Cols).Reshape(Rows, Cols)) * 3.0 + b.Reshape(Rows, Cols) * 1.0).Backward(seed);
        var da = grads[a]!.ToArray<float>();
        var db = grads[b]!.ToArray<float>();
        Clobber(device, g, Rows, Cols);
        Clobber(device, g, Rows * Cols);

        Assert.Equal(da, grads[a]!.ToArray<float>());
        Assert.Equal(db, grads[b]!.ToArray<float>());
        Assert.Equal(values, kept.Select(t => t.ToArray<float>()).ToArray());
        var s = seed.ToArray<float>();
        var av = a.ToArray<float>();
        for (int i = 0; i < s.Length; i++)
        {
            Assert.Equal(s[i], db[i]);
            Assert.Equal(av[i] > 0 ? 12 * s[i] : 0, da[i], 1e-3f);
        }
    }

    /// <summary>
    /// out = (relu(2a) + c)·3: Add hands ȳ = 3·seed to both inputs, and the leaf c (its second input) is reached first,
    /// so c's gradient is that very buffer when relu's node uses it: it must not be handed back then.
    /// </summary>
    [Fact]
    public void A_leafs_gradient_that_another_node_spends_is_kept()
    {
        var device = Device.CpuOfItsOwn(1);
        var g = new Generator(4);
        var a = Tensor.Randn([Rows, Cols], g).ToDevice(device).RequireGrad();
        var c = Tensor.Randn([Rows, Cols], g).ToDevice(device).RequireGrad();
        var seed = Tensor.Randn([Rows, Cols], g).ToDevice(device);
        var grads = (((a * 2.0).Relu() + c) * 3.0).Backward(seed);
        Clobber(device, g, Rows, Cols);
        Assert.Equal(seed.ToArray<float>().Select(v => 3 * v), grads[c]!.ToArray<float>());
    }
}
