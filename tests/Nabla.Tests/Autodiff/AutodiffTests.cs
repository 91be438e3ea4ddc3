using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Tests.Autodiff;

/// <summary>The machinery around the op rules: graph traversal, cotangents, forward mode, second order, checkpointing.</summary>
public class AutodiffTests
{
    private static Tensor F64(params double[] v) => Tensor.FromArray(v);

    private static Tensor Randn(ulong seed, params int[] shape) => Tensor.Randn(shape, new Generator(seed), DType.Float64);

    private static void Close(double[] expected, double[] actual, double tol = 1e-12)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])),
                $"element {i}: expected {expected[i]:R}, got {actual[i]:R}");
    }

    // ---------- reverse mode: graph shapes ----------

    [Fact]
    public void Fan_out_sums_the_gradients_of_every_use()
    {
        // y = sin(x) + x² uses x twice ⇒ dy/dx = cos x + 2x.
        double[] xs = [0.3, -1.1, 2.0];
        var x = F64(xs).RequireGrad();
        var g = (x.Sin() + x.Square()).Sum().Backward().Of(x).ToArray<double>();
        Close(xs.Select(v => Math.Cos(v) + 2 * v).ToArray(), g);
    }

    [Fact]
    public void Same_tensor_as_both_operands_gets_both_contributions()
    {
        var x = F64(1.5, -2).RequireGrad();
        Assert.Equal([3.0, -4.0], (x * x).Sum().Backward().Of(x).ToArray<double>());
        Assert.Equal([2.0, 2.0], (x + x).Sum().Backward().Of(x).ToArray<double>());
        Assert.Equal([0.0, 0.0], (x - x).Sum().Backward().Of(x).ToArray<double>());
    }

    [Fact]
    public void Diamond_graph_accumulates_both_paths_before_going_further()
    {
        // a = eˣ;  b = sin a;  c = a²;  y = b·c
        // dy/da = cos(a)·a² + sin(a)·2a, and dy/dx = dy/da · eˣ.
        double xv = 0.4, a = Math.Exp(xv);
        double expected = (Math.Cos(a) * a * a + Math.Sin(a) * 2 * a) * a;
        var x = F64(xv).RequireGrad();
        var av = x.Exp();
        var y = av.Sin() * av.Square();
        Assert.Equal(expected, y.Sum().Backward().Of(x).Item(), 12);
    }

    [Fact]
    public void Long_chain_does_not_overflow_the_stack()
    {
        // 20 000 recorded nodes: the topological sort must be iterative.
        var x = F64(1.0).RequireGrad();
        var y = x;
        for (int i = 0; i < 20_000; i++) y = y + x;
        Assert.Equal(20_001.0, y.Sum().Backward().Of(x).Item());
    }

    [Fact]
    public void Non_scalar_output_with_explicit_cotangent_gives_the_vector_jacobian_product()
    {
        // y = W·x + x² (elementwise on the first two entries), ȳ given ⇒ x̄ = Wᵀȳ + 2x ⊙ ȳ.
        var w = Tensor.FromArray(new double[,] { { 1, 2, 3 }, { -1, 0, 4 } });
        var x = F64(0.5, -1, 2).RequireGrad();
        var y = w.MatMul(x) + x.Slice(0, 0, 2).Square();
        var cot = F64(3, -2);
        var g = y.Backward(cot).Of(x).ToArray<double>();
        // Wᵀȳ = (1·3 + (−1)(−2), 2·3 + 0, 3·3 + 4(−2)) = (5, 6, 1); 2x⊙ȳ on the first two = (3, 4).
        Assert.Equal([8.0, 10.0, 1.0], g);
    }

    [Fact]
    public void Cotangent_of_matrix_output_reaches_both_matmul_operands()
    {
        var a = Randn(1, 2, 3).RequireGrad();
        var b = Randn(2, 3, 4).RequireGrad();
        var cot = Randn(3, 2, 4);
        var grads = a.MatMul(b).Backward(cot);
        // Ā = Ȳ·Bᵀ and B̄ = Aᵀ·Ȳ, written out with loops.
        double[] av = a.ToArray<double>(), bv = b.ToArray<double>(), cv = cot.ToArray<double>();
        var ga = new double[6];
        var gb = new double[12];
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < 3; k++)
                for (int j = 0; j < 4; j++)
                {
                    ga[i * 3 + k] += cv[i * 4 + j] * bv[k * 4 + j];
                    gb[k * 4 + j] += av[i * 3 + k] * cv[i * 4 + j];
                }
        Close(ga, grads.Of(a).ToArray<double>());
        Close(gb, grads.Of(b).ToArray<double>());
    }

    [Fact]
    public void Backward_on_a_non_scalar_without_cotangent_throws()
    {
        var y = Randn(1, 2, 3).RequireGrad() * 2;
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("gradOutput", e.Message);
    }

    [Fact]
    public void Backward_with_a_cotangent_of_the_wrong_shape_throws()
    {
        var y = Randn(1, 2, 3).RequireGrad() * 2;
        var e = Assert.Throws<ArgumentException>(() => y.Backward(Tensor.Ones([3, 2], DType.Float64)));
        Assert.Contains("[3, 2]", e.Message);
        Assert.Contains("[2, 3]", e.Message);
    }

    [Fact]
    public void Backward_on_a_one_element_non_scalar_implies_cotangent_one()
    {
        var x = F64(2).RequireGrad();
        var y = x.Reshape(1, 1).Square();
        Assert.Equal(4.0, y.Backward().Of(x).Item());
    }

    [Fact]
    public void Backward_on_a_tensor_without_history_throws()
    {
        var e = Assert.Throws<InvalidOperationException>(() => (F64(1, 2) * 2).Sum().Backward());
        Assert.Contains("does not require gradients", e.Message);
    }

    [Fact]
    public void Gradients_only_cover_leaves_that_require_them()
    {
        var x = F64(1, 2).RequireGrad();
        var c = F64(3, 4);
        var unused = F64(5).RequireGrad();
        var grads = (x * c).Sum().Backward();
        Assert.Equal([3.0, 4.0], grads.Of(x).ToArray<double>());
        Assert.Null(grads[c]);
        Assert.Null(grads[unused]);
        Assert.Equal([0.0], grads.Of(unused).ToArray<double>());
        Assert.Equal(1, grads.Count);
    }

    [Fact]
    public void Gradients_add_accumulates_over_batches()
    {
        var w = F64(1, -1).RequireGrad();
        var g1 = (w * F64(2, 3)).Sum().Backward();
        var g2 = (w * F64(10, 20)).Sum().Backward();
        Assert.Equal([12.0, 23.0], g1.Add(g2).Of(w).ToArray<double>());
    }

    [Fact]
    public void Gradient_of_float32_leaf_through_float64_cast_comes_back_as_float32()
    {
        var x = Tensor.FromArray(new float[] { 1.5f, -2f }).RequireGrad();
        var g = x.To(DType.Float64).Square().Sum().Backward().Of(x);
        Assert.Equal(DType.Float32, g.DType);
        Assert.Equal([3.0f, -4.0f], g.ToArray<float>());
    }

    [Fact]
    public void Integer_tensors_cannot_require_gradients()
    {
        Assert.Throws<InvalidOperationException>(() => Tensor.FromArray(new long[] { 1, 2 }).RequireGrad());
    }

    [Fact]
    public void Backward_twice_on_the_same_graph_gives_the_same_gradients()
    {
        var x = F64(0.7, 1.3).RequireGrad();
        var y = (x.Exp() * x).Sum();
        Assert.Equal(y.Backward().Of(x).ToArray<double>(), y.Backward().Of(x).ToArray<double>());
    }

    // ---------- cutting the graph ----------

    [Fact]
    public void Detach_cuts_the_graph()
    {
        // y = x · stop(x): only the first factor is differentiated, so ȳ = stop(x) = x, not 2x.
        var x = F64(1.5, -3).RequireGrad();
        var d = x.Detach();
        Assert.False(d.RequiresGrad);
        Assert.True(d.IsLeaf);
        Assert.Equal(x.ToArray<double>(), d.ToArray<double>());
        Assert.Equal([1.5, -3.0], (x * d).Sum().Backward().Of(x).ToArray<double>());
    }

    [Fact]
    public void Detached_branch_alone_has_no_gradient_path()
    {
        var x = F64(2).RequireGrad();
        Assert.Throws<InvalidOperationException>(() => x.Detach().Square().Sum().Backward());
    }

    [Fact]
    public void NoGrad_records_nothing_and_restores_recording_afterwards()
    {
        var x = F64(1, 2).RequireGrad();
        Tensor inside;
        using (Autograd.NoGrad())
        {
            inside = (x * 3).Exp().Sum();
            using (Autograd.NoGrad()) Assert.False((x + 1).RequiresGrad); // nested scope
            Assert.False((x - 1).RequiresGrad); // still disabled after the inner scope ends
        }
        Assert.False(inside.RequiresGrad);
        Assert.True(inside.IsLeaf);
        Assert.Equal(Math.Exp(3) + Math.Exp(6), inside.Item(), 9);
        Assert.Throws<InvalidOperationException>(() => inside.Backward());

        var outside = (x * 3).Sum();
        Assert.True(outside.RequiresGrad);
        Assert.False(outside.IsLeaf);
        Assert.Equal([3.0, 3.0], outside.Backward().Of(x).ToArray<double>());
    }

    [Fact]
    public void Gradients_are_not_recorded_unless_createGraph_is_set()
    {
        var x = F64(1, 2).RequireGrad();
        var g = x.Pow(3).Sum().Backward().Of(x);
        Assert.False(g.RequiresGrad);
        var g2 = x.Pow(3).Sum().Backward(createGraph: true).Of(x);
        Assert.True(g2.RequiresGrad);
    }

    // ---------- forward mode ----------

    /// <summary>Random smooth functions ℝ⁵ → ℝ³ (or a matrix-shaped output) built from many different ops.</summary>
    public static TheoryData<string> RandomFunctions => new(Functions.Keys);

    private static readonly Dictionary<string, Func<Tensor, Tensor>> Functions = new()
    {
        ["affine-tanh"] = x => Randn(11, 3, 5).MatMul(x).Add(Randn(12, 3)).Tanh(),
        ["softmax-of-products"] = x => (x.Slice(0, 0, 3) * x.Slice(0, 2, 5)).Softmax(0),
        ["outer-product-logsumexp"] = x => x.Unsqueeze(1).MatMul(x.Slice(0, 1, 4).Unsqueeze(0)).LogSumExp(1).Sin(),
        ["sigmoid-gather-cat"] = x => Tensor.Cat([x.Sigmoid().Gather(0, Tensor.FromArray(new long[] { 4, 0 })), x.Square().Mean(0, keepDim: true)]),
        ["matrix-output"] = x => x.Reshape(5, 1).Expand(5, 2).Permute(1, 0).Exp() * Randn(13, 2, 5),
    };

    /// <summary>The full Jacobian (outputs × inputs) by one reverse pass per output element.</summary>
    private static double[,] ReverseJacobian(Func<Tensor, Tensor> f, Tensor x)
    {
        var leaf = x.Detach().RequireGrad();
        var y = f(leaf);
        var jac = new double[y.Count, x.Count];
        for (int o = 0; o < y.Count; o++)
        {
            var e = new double[y.Count];
            e[o] = 1;
            var row = y.Backward(Tensor.FromArray(e).Reshape(y.Shape)).Of(leaf).ToArray<double>();
            for (int i = 0; i < x.Count; i++) jac[o, i] = row[i];
        }
        return jac;
    }

    [Theory]
    [MemberData(nameof(RandomFunctions))]
    public void Jvp_equals_the_reverse_mode_jacobian_times_v(string name)
    {
        var f = Functions[name];
        for (ulong trial = 0; trial < 3; trial++)
        {
            var x = Randn(100 + trial, 5);
            var v = Randn(200 + trial, 5);
            var jac = ReverseJacobian(f, x);
            var (value, tangent) = Autograd.Jvp(f, x, v);
            Tensor expectedValue;
            using (Autograd.NoGrad()) expectedValue = f(x);
            Assert.Equal(expectedValue.Shape, tangent.Shape);
            Close(expectedValue.ToArray<double>(), value.ToArray<double>());
            var vs = v.ToArray<double>();
            var jv = new double[jac.GetLength(0)];
            for (int o = 0; o < jv.Length; o++)
                for (int i = 0; i < vs.Length; i++) jv[o] += jac[o, i] * vs[i];
            Close(jv, tangent.ToArray<double>(), 1e-10);
        }
    }

    [Fact]
    public void Jvp_with_several_inputs_sums_the_partial_tangents()
    {
        // f(a, b) = a·b + sin(a) ⇒ ḟ = ȧ·b + a·ḃ + cos(a)·ȧ
        double a = 0.8, b = -1.7, da = 0.3, db = 2.0;
        var (value, tangent) = Autograd.Jvp(x => x[0] * x[1] + x[0].Sin(), [F64(a), F64(b)], [F64(da), F64(db)]);
        Assert.Equal(a * b + Math.Sin(a), value.Item(), 12);
        Assert.Equal(da * b + a * db + Math.Cos(a) * da, tangent.Item(), 12);
        Assert.False(value.RequiresGrad);
    }

    [Fact]
    public void Jvp_of_a_function_that_ignores_its_input_is_zero()
    {
        var (_, tangent) = Autograd.Jvp(_ => Tensor.Ones([2], DType.Float64), F64(1, 2), F64(1, 1));
        Assert.Equal([0.0, 0.0], tangent.ToArray<double>());
    }

    [Fact]
    public void Jvp_rejects_a_tangent_of_the_wrong_shape()
    {
        var e = Assert.Throws<ArgumentException>(() => Autograd.Jvp(x => x.Exp(), F64(1, 2), F64(1, 2, 3)));
        Assert.Contains("[3]", e.Message);
        Assert.Contains("[2]", e.Message);
    }

    [Fact]
    public void Grad_returns_the_gradient_of_a_scalar_function()
    {
        // f(x) = Σ x_i e^{x_i} ⇒ ∂f/∂x_i = (1 + x_i) e^{x_i}
        double[] xs = [-0.5, 0.25, 1.0];
        var g = Autograd.Grad(x => (x * x.Exp()).Sum(), F64(xs)).ToArray<double>();
        Close(xs.Select(v => (1 + v) * Math.Exp(v)).ToArray(), g);
    }

    // ---------- second order ----------

    /// <summary>f(x) = Σ xᵢ³ + (Σ xᵢ)², whose Hessian is diag(6x) + 2·𝟙𝟙ᵀ.</summary>
    private static Tensor CubicPlusSquaredSum(Tensor x) => x.Pow(3).Sum() + x.Sum().Square();

    private static double[] KnownHessianTimes(double[] x, double[] v) =>
        x.Select((xi, i) => 6 * xi * v[i] + 2 * v.Sum()).ToArray();

    [Fact]
    public void Hvp_forward_over_reverse_equals_the_known_hessian_product()
    {
        double[] x = [0.5, -1.0, 2.0, 0.25], v = [1.0, 2.0, -0.5, 3.0];
        var hv = Autograd.Hvp(CubicPlusSquaredSum, F64(x), F64(v)).ToArray<double>();
        Close(KnownHessianTimes(x, v), hv);
    }

    [Fact]
    public void Hvp_reverse_over_reverse_equals_the_known_hessian_product()
    {
        double[] x = [0.5, -1.0, 2.0, 0.25], v = [1.0, 2.0, -0.5, 3.0];
        var hv = Autograd.HvpReverse(CubicPlusSquaredSum, F64(x), F64(v)).ToArray<double>();
        Close(KnownHessianTimes(x, v), hv);
    }

    [Fact]
    public void Hvp_recovers_the_full_known_hessian_column_by_column()
    {
        double[] x = [1.5, -0.5, 0.75];
        for (int j = 0; j < 3; j++)
        {
            var e = new double[3];
            e[j] = 1;
            var col = Autograd.Hvp(CubicPlusSquaredSum, F64(x), F64(e)).ToArray<double>();
            for (int i = 0; i < 3; i++) Assert.Equal((i == j ? 6 * x[i] : 0) + 2, col[i], 12);
        }
    }

    /// <summary>A non-polynomial scalar function whose Hessian is dense.</summary>
    private static Tensor Wiggly(Tensor x) =>
        (x.Slice(0, 0, 3) * x.Slice(0, 1, 4)).Sin().Sum() + x.LogSumExp(0) + x.Sigmoid().Square().Mean() + Prod3(x.Tanh());

    /// <summary>Product of the first three elements of a 1-D tensor (a cross term for a dense Hessian).</summary>
    private static Tensor Prod3(Tensor x) => x.Select(0, 0) * x.Select(0, 1) * x.Select(0, 2);

    [Fact]
    public void Both_hvps_equal_a_finite_difference_of_gradients()
    {
        var x = Randn(31, 4);
        var v = Randn(32, 4);
        const double eps = 1e-5;
        var gPlus = Autograd.Grad(Wiggly, x + eps * v).ToArray<double>();
        var gMinus = Autograd.Grad(Wiggly, x - eps * v).ToArray<double>();
        var fd = gPlus.Select((p, i) => (p - gMinus[i]) / (2 * eps)).ToArray();
        var forward = Autograd.Hvp(Wiggly, x, v).ToArray<double>();
        var reverse = Autograd.HvpReverse(Wiggly, x, v).ToArray<double>();
        Close(fd, forward, 1e-7);
        Close(fd, reverse, 1e-7);
        Close(forward, reverse, 1e-12);
    }

    [Fact]
    public void Double_backward_differentiates_the_gradient_again()
    {
        // y = Σ x³ sin x. g = 3x² sin x + x³ cos x; Σg differentiated again gives
        // g' = 6x sin x + 6x² cos x − x³ sin x.
        double[] xs = [0.3, -1.2, 2.1];
        var x = F64(xs).RequireGrad();
        var g = (x.Pow(3) * x.Sin()).Sum().Backward(createGraph: true).Of(x);
        Close(xs.Select(v => 3 * v * v * Math.Sin(v) + v * v * v * Math.Cos(v)).ToArray(), g.ToArray<double>());
        var h = g.Sum().Backward().Of(x).ToArray<double>();
        Close(xs.Select(v => 6 * v * Math.Sin(v) + 6 * v * v * Math.Cos(v) - v * v * v * Math.Sin(v)).ToArray(), h, 1e-11);
    }

    [Fact]
    public void Third_derivative_by_three_nested_backward_passes()
    {
        // d³/dx³ eˣ·x = (x + 3)eˣ
        var x = F64(0.6).RequireGrad();
        var g1 = (x.Exp() * x).Sum().Backward(createGraph: true).Of(x);
        var g2 = g1.Sum().Backward(createGraph: true).Of(x);
        var g3 = g2.Sum().Backward().Of(x);
        Assert.Equal(3.6 * Math.Exp(0.6), g3.Item(), 12);
    }

    [Fact]
    public void Double_backward_hessian_rows_match_finite_differences_of_gradients()
    {
        // f(x) = ½‖softmax(x)‖² + max(x): every Hessian row ∂(∂f/∂x_j)/∂x by a second backward pass through the
        // recorded gradient, against central differences of the gradient.
        static Tensor F(Tensor v) => v.Softmax(0).Square().Sum() * 0.5 + v.Max();
        double[] xs = [0.2, -1.0, 0.9, 0.1];
        var x = F64(xs).RequireGrad();
        var g = F(x).Backward(createGraph: true).Of(x);
        const double eps = 1e-6;
        for (int j = 0; j < xs.Length; j++)
        {
            var row = g.Select(0, j).Backward().Of(x).ToArray<double>();
            for (int i = 0; i < xs.Length; i++)
            {
                var plus = (double[])xs.Clone();
                var minus = (double[])xs.Clone();
                plus[i] += eps;
                minus[i] -= eps;
                double fd = (Autograd.Grad(F, F64(plus)).ToArray<double>()[j] - Autograd.Grad(F, F64(minus)).ToArray<double>()[j]) / (2 * eps);
                Assert.True(Math.Abs(fd - row[i]) < 1e-7, $"H[{j},{i}]: double backward {row[i]}, finite differences {fd}");
            }
        }
    }

    // ---------- checkpointing ----------

    private const int Depth = 20, Width = 4, Batch = 3;

    private static (Tensor[] W, Tensor[] B) Layers()
    {
        var g = new Generator(5);
        var w = new Tensor[Depth];
        var b = new Tensor[Depth];
        for (int i = 0; i < Depth; i++)
        {
            w[i] = (Tensor.Randn([Width, Width], g, DType.Float64) * 0.6).Detach().RequireGrad();
            b[i] = (Tensor.Randn([Width], g, DType.Float64) * 0.1).Detach().RequireGrad();
        }
        return (w, b);
    }

    private static Tensor Layer(Tensor h, Tensor w, Tensor b) => h.MatMul(w).Add(b).Tanh();

    private static Tensor Plain(Tensor x, Tensor[] w, Tensor[] b)
    {
        var h = x;
        for (int i = 0; i < Depth; i++) h = Layer(h, w[i], b[i]);
        return h.Square().Sum();
    }

    private static Tensor Checkpointed(Tensor x, Tensor[] w, Tensor[] b, int block)
    {
        var h = x;
        for (int start = 0; start < Depth; start += block)
        {
            int s = start, n = Math.Min(block, Depth - start);
            // Inputs: the activation, then this block's weights and biases (all read back from xs).
            var inputs = new[] { h }.Concat(w[s..(s + n)]).Concat(b[s..(s + n)]).ToArray();
            h = Checkpoint.Run(xs =>
            {
                var a = xs[0];
                for (int i = 0; i < n; i++) a = Layer(a, xs[1 + i], xs[1 + n + i]);
                return a;
            }, inputs);
        }
        return h.Square().Sum();
    }

    [Theory]
    [InlineData(5)]
    [InlineData(3)]
    public void Checkpointed_chain_has_the_same_gradients_and_a_smaller_graph(int block)
    {
        var (w, b) = Layers();
        var x = Randn(6, Batch, Width).RequireGrad();
        var plain = Plain(x, w, b);
        var ckpt = Checkpointed(x, w, b, block);
        Assert.Equal(plain.Item(), ckpt.Item());

        var gp = plain.Backward();
        var gc = ckpt.Backward();
        // Recomputation repeats the same float operations in the same order, so the gradients are bitwise identical.
        foreach (var p in w.Concat(b).Append(x))
            Assert.Equal(gp.Of(p).ToArray<double>(), gc.Of(p).ToArray<double>());

        var (plainNodes, plainSaved) = Autograd.GraphSize(plain);
        var (ckptNodes, ckptSaved) = Autograd.GraphSize(ckpt);
        Assert.True(plainNodes >= 3 * Depth, $"plain graph has {plainNodes} nodes");
        Assert.True(ckptNodes <= (Depth + block - 1) / block + 3, $"checkpointed graph has {ckptNodes} nodes");
        Assert.True(ckptSaved < plainSaved, $"checkpointed keeps {ckptSaved} elements, plain {plainSaved}");
        // Plain keeps ~3 activations of Batch×Width per layer; checkpointed keeps one per block plus the weights.
        Assert.True(plainSaved - ckptSaved >= 2L * (Depth - Depth / block) * Batch * Width,
            $"saved {plainSaved - ckptSaved} elements");
    }

    [Fact]
    public void Checkpoint_value_and_forward_mode_match_the_plain_segment()
    {
        var w = Randn(7, 3, 3);
        Func<Tensor[], Tensor> seg = xs => xs[0].MatMul(xs[1]).Sin();
        var x = Randn(8, 2, 3);
        var v = Randn(9, 2, 3);
        var plain = Autograd.Jvp(xs => seg([xs[0], w]), [x], [v]);
        var ckpt = Autograd.Jvp(xs => Checkpoint.Run(seg, xs[0], w), [x], [v]);
        Assert.Equal(plain.Value.ToArray<double>(), ckpt.Value.ToArray<double>());
        Close(plain.Tangent.ToArray<double>(), ckpt.Tangent.ToArray<double>());
    }

    [Fact]
    public void Checkpoint_rejects_a_parameter_that_was_not_passed_as_input()
    {
        var w = Randn(10, 3, 3).RequireGrad();
        var x = Randn(11, 2, 3).RequireGrad();
        var y = Checkpoint.Run(xs => xs[0].MatMul(w).Tanh(), x); // w is captured, not passed
        var e = Assert.Throws<InvalidOperationException>(() => y.Sum().Backward());
        Assert.Contains("Checkpoint", e.Message);
        Assert.Contains("not passed as an input", e.Message);
    }

    [Fact]
    public void Checkpoint_accepts_a_captured_parameter_that_is_also_passed()
    {
        var w = Randn(10, 3, 3).RequireGrad();
        var x = Randn(11, 2, 3).RequireGrad();
        var expected = x.MatMul(w).Tanh().Sum().Backward().Of(w).ToArray<double>();
        var y = Checkpoint.Run(xs => xs[0].MatMul(w).Tanh(), x, w); // reads w from the closure, but passes it too
        Close(expected, y.Sum().Backward().Of(w).ToArray<double>());
    }

    [Fact]
    public void Forward_over_reverse_hvp_works_through_a_checkpoint()
    {
        // f(x) = Σ x³ inside a checkpoint: H·v = 6x ⊙ v.
        var hv = Autograd.Hvp(x => Checkpoint.Run(xs => xs[0].Pow(3), x).Sum(), F64(1, 2), F64(1, -1));
        Assert.Equal([6.0, -12.0], hv.ToArray<double>());
    }

    [Fact]
    public void Reverse_over_reverse_hvp_works_through_a_checkpoint()
    {
        var hv = Autograd.HvpReverse(x => Checkpoint.Run(xs => xs[0].Pow(3), x).Sum(), F64(1, 2), F64(1, -1));
        Assert.Equal([6.0, -12.0], hv.ToArray<double>());
    }

    [Fact]
    public void Checkpoint_never_silently_drops_a_captured_parameter()
    {
        // loss = Σ (x·W) + Σ W with x constant: ∂loss/∂W = 1 + 1 everywhere. Either the right gradient or the
        // "not passed as an input" error is acceptable; a wrong gradient (1 everywhere) is not.
        var w = Tensor.FromArray(new double[,] { { 1, 2 }, { 3, 4 } }).RequireGrad();
        var x = Tensor.FromArray(new double[,] { { 1, 1 } });
        var loss = Checkpoint.Run(xs => xs[0].MatMul(w), x).Sum() + w.Sum();
        try
        {
            Assert.Equal([2.0, 2, 2, 2], loss.Backward().Of(w).ToArray<double>());
        }
        catch (InvalidOperationException e)
        {
            Assert.Contains("Checkpoint", e.Message);
        }
    }

    // ---------- numerical stability ----------

    [Fact]
    public void Softmax_of_huge_logits_is_finite_and_exact()
    {
        var x = F64(1000, -1000).RequireGrad();
        var s = x.Softmax(0);
        Assert.Equal([1.0, 0.0], s.ToArray<double>());
        var g = s.Select(0, 0).Backward().Of(x).ToArray<double>();
        Assert.All(g, v => Assert.True(double.IsFinite(v)));
        Assert.Equal([0.0, 0.0], g); // σ₀(1 − σ₀) and −σ₀σ₁ underflow to exactly 0

        var f32 = Tensor.FromArray(new float[] { 1000, -1000, 999 }).Softmax(0).ToArray<float>();
        Assert.Equal(1 / (1 + MathF.Exp(-1)), f32[0], 6);
        Assert.Equal(0f, f32[1]);
    }

    [Fact]
    public void Logsumexp_of_huge_equal_values_is_value_plus_log_two()
    {
        var x = F64(1000, 1000).RequireGrad();
        var lse = x.LogSumExp(0);
        Assert.Equal(1000 + Math.Log(2), lse.Item(), 10);
        Assert.Equal([0.5, 0.5], lse.Backward().Of(x).ToArray<double>());
        Assert.Equal(1000 + MathF.Log(2), Tensor.FromArray(new float[] { 1000, 1000 }).LogSumExp(0).Item(), 3);
    }

    [Fact]
    public void Logsumexp_of_a_row_of_minus_infinity_is_minus_infinity()
    {
        var x = Tensor.FromArray(new double[,] { { double.NegativeInfinity, double.NegativeInfinity }, { 0, 0 } });
        var lse = x.LogSumExp(1).ToArray<double>();
        Assert.Equal(double.NegativeInfinity, lse[0]);
        Assert.Equal(Math.Log(2), lse[1], 12);
    }

    [Fact]
    public void Log_softmax_of_huge_logits_is_finite()
    {
        var ls = F64(1000, -1000, 0).LogSoftmax(0).ToArray<double>();
        Assert.Equal([0.0, -2000.0, -1000.0], ls);
    }
}
