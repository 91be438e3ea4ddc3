using Nabla.Autodiff;
using Nabla.Kernels;
using Nabla.Kernels.Cpu;
using Nabla.Nn;
using Nabla.Optim;

namespace Nabla.Tests.Autodiff;

/// <summary>
/// Disposing a <see cref="Gradients"/> hands its gradients' buffers back to the pool at once (see its remarks): the
/// next backward pass reuses them, training gives the same numbers as without disposing, and nothing anyone else can
/// read (the seed, the graph's tensors, the leaves) is ever handed out.
/// </summary>
public class GradientsDisposeTests
{
    // [256, 128] float = 128 KiB: pooled (the pool holds buffers of 16 KiB and more).
    private const int In = 128, Out = 256;

    [Fact]
    public void The_next_backward_pass_writes_into_the_disposed_gradients_memory()
    {
        NoCollection.Retry(() =>
        {
            var device = Device.CpuOfItsOwn(1);
            var pool = ((CpuBackend)device.Backend).Pool;
            var g = new Generator(1);
            var w = Tensor.Randn([Out, In], g).ToDevice(device).RequireGrad();
            var x = Tensor.Randn([8, In], g).ToDevice(device);
            int collections = GC.CollectionCount(0);

            var first = x.MatMul(w.T).Square().Sum().Backward();
            var firstData = ((CpuStorage<float>)first[w]!.Storage).Data;
            first.Dispose();
            long reuses = pool.Reuses;
            var second = x.MatMul(w.T).Square().Sum().Backward();
            var secondData = ((CpuStorage<float>)second[w]!.Storage).Data;
            if (GC.CollectionCount(0) != collections) return false;   // a collection could have freed it too: retry

            Assert.Same(firstData, secondData);
            Assert.True(pool.Reuses > reuses);
            return true;
        });
    }

    [Fact]
    public void Training_with_disposed_gradients_gives_the_same_numbers()
    {
        float[] Run(bool dispose)
        {
            var g = new Generator(3);
            var model = new Sequential(new Linear(In, Out, g), new ReLU(), new Linear(Out, 10, g));
            var optimizer = new Sgd(model.NamedParameters(), new SgdOptions(LearningRate: 0.05, Momentum: 0.9));
            var x = Tensor.Randn([32, In], g);
            var y = Tensor.FromArray(Enumerable.Range(0, 32).Select(i => (long)(i % 10)).ToArray(), 32);
            var losses = new List<float>();
            for (int step = 0; step < 20; step++)
            {
                var loss = Loss.CrossEntropy(model.Forward(x, Mode.Train(g)), y);
                losses.Add((float)loss.Item());
                var grads = loss.Backward();
                optimizer.Step(grads);
                if (dispose) grads.Dispose();
            }
            return [.. losses, .. model.NamedParameters().SelectMany(p => p.Value.ToArray<float>())];
        }
        Assert.Equal(Run(dispose: false), Run(dispose: true));
    }

    /// <summary>
    /// out = relu(2a) + b with an explicit seed: Add passes the seed on unchanged, so b's gradient is the caller's tensor,
    /// while a's is new. Disposing hands a's back and must free neither the seed, nor a leaf, nor the graph's tensor
    /// relu(2a): buffers of that size taken afterwards are none of theirs, and their values stay.
    /// </summary>
    [Fact]
    public void The_seed_the_leaves_and_the_graph_are_never_handed_back()
    {
        var device = Device.CpuOfItsOwn(1);
        var g = new Generator(5);
        var a = Tensor.Randn([Out, In], g).ToDevice(device).RequireGrad();
        var b = Tensor.Randn([Out, In], g).ToDevice(device).RequireGrad();
        var hidden = (a * 2.0).Relu();   // a graph tensor of the same size
        var seed = Tensor.Randn([Out, In], g).ToDevice(device) * 1.0;   // computed, so its buffer is the pool's
        var values = new[] { a, b, hidden, seed }.Select(t => t.ToArray<float>()).ToArray();

        var grads = (hidden + b).Backward(seed);
        Assert.Same(seed.Storage, grads[b]!.Storage);
        grads.Dispose();
        var taken = Enumerable.Range(0, 4).Select(_ => Tensor.Randn([Out, In], g).ToDevice(device) * 3.0).ToArray();
        foreach (var t in taken)
            foreach (var kept in new[] { a, b, hidden, seed })
                Assert.NotSame(((CpuStorage<float>)kept.Storage).Data, ((CpuStorage<float>)t.Storage).Data);
        Assert.Equal(values, new[] { a, b, hidden, seed }.Select(t => t.ToArray<float>()).ToArray());
    }

    [Fact]
    public void A_disposed_gradients_object_says_so_when_used()
    {
        var w = Tensor.Randn([4, 3], new Generator(2)).RequireGrad();
        var grads = w.Square().Sum().Backward();
        grads.Dispose();
        grads.Dispose();   // twice is harmless
        var e = Assert.Throws<ObjectDisposedException>(() => grads[w]);
        Assert.Contains("Dispose", e.Message);
        Assert.Throws<ObjectDisposedException>(() => grads.Count);
    }

    /// <summary>Gradients made with createGraph belong to a new graph and are never handed back.</summary>
    [Fact]
    public void Gradients_that_are_part_of_a_graph_are_kept()
    {
        var device = Device.CpuOfItsOwn(1);
        var g = new Generator(9);
        var w = Tensor.Randn([Out, In], g).ToDevice(device).RequireGrad();
        var grads = w.Square().Sum().Backward(createGraph: true);
        var dw = grads[w]!;
        var expected = dw.ToArray<float>();
        grads.Dispose();
        _ = Enumerable.Range(0, 4).Select(_ => Tensor.Randn([Out, In], g).ToDevice(device) * 3.0).ToArray();
        Assert.Equal(expected, dw.ToArray<float>());
    }
}
