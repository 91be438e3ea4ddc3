using Nabla.Autodiff;
using Nabla.Kernels;
using Nabla.Nn;

namespace Nabla.Tests.Nn;

public class LossTests
{
    [Fact]
    public void Cross_entropy_is_stable_for_huge_logits()
    {
        var logits = Tensor.FromArray(new float[,] { { 1000, -1000 }, { -1000, 1000 } });
        var loss = Loss.CrossEntropy(logits, Tensor.FromArray([0L, 0L]), Reduction.None).ToArray<float>();
        Assert.Equal(0, loss[0], 6);
        Assert.Equal(2000, loss[1], 3);
    }

    [Fact]
    public void Cross_entropy_matches_its_definition()
    {
        var logits = Tensor.Randn([5, 4], new Generator(1), DType.Float64);
        var target = Tensor.FromArray([0L, 3, 1, 1, 2]);
        var p = logits.Softmax(1).ToArray<double>();
        var t = target.ToArray<long>();
        double expected = -Enumerable.Range(0, 5).Average(i => Math.Log(p[i * 4 + t[i]]));
        Assert.Equal(expected, Loss.CrossEntropy(logits, target).Item(), 12);
    }

    [Fact]
    public void Losses_have_correct_gradients()
    {
        var g = new Generator(2);
        var scores = Tensor.Randn([4, 3], g, DType.Float64);
        var labels = Tensor.FromArray([1.0, -1, 1, -1, 1, 1, -1, -1, 1, -1, 1, 1], 4, 3);
        var probs = Tensor.Rand([4, 3], g, DType.Float64);
        var classes = Tensor.FromArray([2L, 0, 1, 2]);
        foreach (var f in new Func<Tensor, Tensor>[]
                 {
                     s => Loss.Mse(s, probs),
                     s => Loss.CrossEntropy(s, classes),
                     s => Loss.BinaryCrossEntropyWithLogits(s, probs),
                     s => Loss.Logistic(s, labels),
                     s => Loss.MultiMargin(s, classes),
                 })
        {
            var report = GradCheck.Check(xs => f(xs[0]), [scores]);
            Assert.True(report.Passed, report.Detail);
        }
    }

    /// <summary>
    /// Cross-entropy is one node (its backward a shortcut from the forward's log-probabilities, or recorded ops under
    /// create_graph): the same values, gradients and Hessian-vector products as −log softmax(x)[y] composed of ops, for
    /// every reduction.
    /// </summary>
    [Fact]
    public void Cross_entropy_matches_its_composition_to_second_order()
    {
        var g = new Generator(7);
        var logits = Tensor.Randn([6, 5], g, DType.Float64) * 3.0;
        var classes = Tensor.FromArray([4L, 0, 1, 1, 3, 2]);
        var v = Tensor.Randn([6, 5], g, DType.Float64);
        foreach (var reduction in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
        {
            var weights = Tensor.Randn(reduction == Reduction.None ? [6] : [], g, DType.Float64);
            Tensor Fused(Tensor x) => (Loss.CrossEntropy(x, classes, reduction) * weights).Sum();
            Tensor Composed(Tensor x)
            {
                var picked = -x.LogSoftmax(1).Gather(1, classes.Reshape(-1, 1)).Reshape(-1);
                var reduced = reduction switch { Reduction.Mean => picked.Mean(), Reduction.Sum => picked.Sum(), _ => picked };
                return (reduced * weights).Sum();
            }
            Assert.Equal(Composed(logits).Item(), Fused(logits).Item(), 12);
            AssertClose(Autograd.Grad(Composed, logits), Autograd.Grad(Fused, logits));
            var x = logits.Detach().RequireGrad();
            AssertClose(Autograd.Grad(Composed, logits), Fused(x).Backward(createGraph: true)[x]!);
            AssertClose(Autograd.Hvp(Composed, logits, v), Autograd.Hvp(Fused, logits, v));
            AssertClose(Autograd.HvpReverse(Composed, logits, v), Autograd.HvpReverse(Fused, logits, v));
            AssertClose(Autograd.Jvp(Composed, logits, v).Tangent, Autograd.Jvp(Fused, logits, v).Tangent);
        }

        static void AssertClose(Tensor expected, Tensor actual)
        {
            var (e, a) = (expected.ToArray<double>(), actual.ToArray<double>());
            Assert.Equal(e.Length, a.Length);
            for (int i = 0; i < e.Length; i++) Assert.Equal(e[i], a[i], 12);
        }
    }

    [Fact]
    public void Hinge_is_zero_exactly_beyond_the_margin()
    {
        // L_i = ReLU(1 − y_i s_i) (002 eq 7.11): 0 iff y·s ≥ 1, above 1 iff misclassified.
        var s = Tensor.FromArray([2.0, 1.0, 0.5, -0.5]);
        var y = Tensor.FromArray([1.0, 1.0, 1.0, 1.0]);
        Assert.Equal([0, 0, 0.5, 1.5], Loss.Hinge(s, y, Reduction.None).ToArray<double>());
    }

    [Fact]
    public void Logistic_loss_equals_binary_cross_entropy_with_mapped_labels()
    {
        var s = Tensor.Randn([10], new Generator(3), DType.Float64);
        var pm = Tensor.FromArray([1.0, -1, 1, 1, -1, -1, 1, -1, 1, 1]);
        var zeroOne = (pm + 1) / 2;
        Assert.Equal(Loss.BinaryCrossEntropyWithLogits(s, zeroOne).Item(), Loss.Logistic(s, pm).Item(), 12);
    }

    [Fact]
    public void Multi_margin_matches_pytorch_definition()
    {
        // x = [0.1, 0.2, 0.4, 0.8], y = 3: (1/4)·Σ_{i≠3} max(0, 1 − 0.8 + xᵢ) = (0.3 + 0.4 + 0.6)/4 = 0.325 (PyTorch docs' example).
        var x = Tensor.FromArray(new double[,] { { 0.1, 0.2, 0.4, 0.8 } });
        Assert.Equal(0.325, Loss.MultiMargin(x, Tensor.FromArray([3L])).Item(), 12);
    }

    [Fact]
    public void L2_sums_squares()
    {
        var a = Tensor.FromArray([1.0, 2.0]);
        var b = Tensor.FromArray([3.0]);
        Assert.Equal(0.5 * 14, Loss.L2([a, b], 0.5).Item(), 12);
    }

    [Fact]
    public void Shape_mismatch_names_the_loss()
    {
        var e = Assert.Throws<ArgumentException>(() => Loss.Mse(Tensor.Zeros(3), Tensor.Zeros(4)));
        Assert.Contains("Mse", e.Message);
        var c = Assert.Throws<ArgumentException>(() => Loss.CrossEntropy(Tensor.Zeros(2, 3), Tensor.FromArray([0L, 5L])));
        Assert.Contains("class index 5", c.Message);
    }
}
