using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Tests.Seeds;

/// <summary>
/// Worked examples of course text 002 (/work/shared/seeds/002_d71f5520ea8ac6f5.txt), recomputed with Nabla.
/// Each expected value is transcribed from the text and re-derived by hand in the comments. Erratum E-3 of the
/// seeds catalogue (σ_x in Ex 9.3.1 printed with 4u² instead of 2u²) is not encoded: the correct value is used.
/// </summary>
public class SeedExampleTests
{
    private static Tensor F64(params double[] v) => Tensor.FromArray(v);

    // ---------- Example 4.2.1: a 3 → 5 → 2 ReLU network at (1, 0, 6) ----------

    // (4.12)–(4.13). 002 activates every layer, the output layer included (Def 4.1.3; catalogue E-2).
    private static readonly double[,] A1 = { { 4, 2, -5 }, { 5, 4, 6 }, { 0, 3, 2 }, { 2, 2, -3 }, { -7, 1, -4 } };
    private static readonly double[,] A2 = { { -2, 6, 2, -5, 0 }, { -3, 0, 6, 1, 2 } };
    private static readonly double[] B1 = [-2, 3, 5, -2, 7];
    private static readonly double[] B2 = [-3, -1];

    private static Tensor Layer(Tensor a, Tensor b, Tensor x) => (a.MatMul(x) + b).Relu(); // λ̄(A x + b), eq (4.14)

    [Fact]
    public void Example_4_2_1_hidden_layer_matches_eqs_4_15_to_4_18()
    {
        // A¹(1,0,6) = (4−30, 5+36, 0+12, 2−18, −7−24) = (−26, 41, 12, −16, −31)        (4.16)
        // + b¹ = (−28, 44, 17, −18, −24)                                                  (4.17)
        // ReLU → (0, 44, 17, 0, 0)                                                         (4.18)
        var x = F64(1, 0, 6);
        var pre = Tensor.FromArray(A1).MatMul(x);
        Assert.Equal([-26.0, 41, 12, -16, -31], pre.ToArray<double>());
        Assert.Equal([-28.0, 44, 17, -18, -24], (pre + F64(B1)).ToArray<double>());
        Assert.Equal([0.0, 44, 17, 0, 0], Layer(Tensor.FromArray(A1), F64(B1), x).ToArray<double>());
    }

    [Fact]
    public void Example_4_2_1_network_output_is_295_101()
    {
        // A²(0,44,17,0,0) = (6·44 + 2·17, 0·44 + 6·17) = (264+34, 102) = (298, 102)      (4.23)
        // + b² = (295, 101), both positive so the output ReLU keeps them                  (4.24)–(4.25)
        var h = Layer(Tensor.FromArray(A2), F64(B2), Layer(Tensor.FromArray(A1), F64(B1), F64(1, 0, 6)));
        Assert.Equal([295.0, 101.0], h.ToArray<double>());
    }

    [Fact]
    public void Example_4_2_1_in_float32_and_as_a_batch_of_rows()
    {
        // The same network on a batch [x; −x] in row convention (x Aᵀ + b). For −x = (−1, 0, −6):
        // A¹(−x) + b¹ = (26−2, −41+3, −12+5, 16−2, 31+7) = (24, −38, −7, 14, 38) → ReLU (24, 0, 0, 14, 38);
        // A²· = (−48 − 70, −72 + 14 + 76) = (−118, 18); + b² = (−121, 17) → ReLU (0, 17).
        var x = Tensor.FromArray(new float[,] { { 1, 0, 6 }, { -1, 0, -6 } });
        var a1 = Tensor.FromArray(A1).To(DType.Float32);
        var a2 = Tensor.FromArray(A2).To(DType.Float32);
        var h1 = (x.MatMul(a1.T) + F64(B1).To(DType.Float32)).Relu();
        var h2 = (h1.MatMul(a2.T) + F64(B2).To(DType.Float32)).Relu();
        Assert.Equal(DType.Float32, h2.DType);
        Assert.Equal([295f, 101f, 0f, 17f], h2.ToArray<float>());
    }

    [Fact]
    public void Example_4_2_1_gradient_of_the_output_follows_the_active_units()
    {
        // Beyond the text: ∂h₁/∂x through the active units only. Hidden units 2 and 3 are active, output 1 is active:
        // ∂h₁/∂x = A²[0, {1,2}] · A¹[{1,2}, :] = 6·(5,4,6) + 2·(0,3,2) = (30, 30, 40).
        var x = F64(1, 0, 6).RequireGrad();
        var h = Layer(Tensor.FromArray(A2), F64(B2), Layer(Tensor.FromArray(A1), F64(B1), x));
        Assert.Equal([30.0, 30.0, 40.0], h.Select(0, 0).Backward().Of(x).ToArray<double>());
    }

    // ---------- Example 9.2.1: d/dx cos(eˣ + 2x) at x = 0 ----------

    [Fact]
    public void Example_9_2_1_derivative_of_composition_is_minus_3_sin_1()
    {
        // g(0) = e⁰ + 0 = 1, g′(0) = e⁰ + 2 = 3, f′(y) = −sin y ⇒ (f∘g)′(0) = −sin(1)·3              (9.18)
        double expected = -3 * Math.Sin(1);
        Func<Tensor, Tensor> fg = x => (x.Exp() + 2 * x).Cos();

        var x0 = F64(0).RequireGrad();
        Assert.Equal(expected, fg(x0).Backward().Of(x0).Item(), 14);

        var (value, tangent) = Autograd.Jvp(fg, F64(0), F64(1));
        Assert.Equal(Math.Cos(1), value.Item(), 14);
        Assert.Equal(expected, tangent.Item(), 14);
        Assert.Equal(-2.5244129544236893, expected, 14); // −3 sin 1
    }

    // ---------- Example 9.2.2: Jacobian of f∘g at (1, 0) ----------

    // f(u, v) = (u² + 3uv, exp(u + v)) (9.19);  g(x, y) = (xy, x² + y²) (9.20)
    private static Tensor G(Tensor p) => Tensor.Stack([p.Select(0, 0) * p.Select(0, 1), p.Select(0, 0).Square() + p.Select(0, 1).Square()]);

    private static Tensor F(Tensor q)
    {
        var (u, v) = (q.Select(0, 0), q.Select(0, 1));
        return Tensor.Stack([u.Square() + 3 * u * v, (u + v).Exp()]);
    }

    [Fact]
    public void Example_9_2_2_factor_jacobians_match_eqs_9_23_and_9_24()
    {
        // J_f at g(1,0) = (0,1): [[2u+3v, 3u], [e^{u+v}, e^{u+v}]] = [[3, 0], [e, e]]                 (9.23)
        // J_g at (1,0): [[y, x], [2x, 2y]] = [[0, 1], [2, 0]]                                           (9.24)
        Assert.Equal([0.0, 1.0], G(F64(1, 0)).ToArray<double>());
        AssertJacobian(new[,] { { 3, 0 }, { Math.E, Math.E } }, F, F64(0, 1));
        AssertJacobian(new double[,] { { 0, 1 }, { 2, 0 } }, G, F64(1, 0));
    }

    [Fact]
    public void Example_9_2_2_jacobian_of_composition_is_0_3_2e_e()
    {
        // [[3, 0], [e, e]]·[[0, 1], [2, 0]] = [[0, 3], [2e, e]]                                          (9.25)
        AssertJacobian(new[,] { { 0, 3 }, { 2 * Math.E, Math.E } }, p => F(G(p)), F64(1, 0));
    }

    /// <summary>Rows by reverse mode (one cotangent eᵢ each), columns by forward mode (one tangent eⱼ each).</summary>
    private static void AssertJacobian(double[,] expected, Func<Tensor, Tensor> f, Tensor at)
    {
        int m = expected.GetLength(0), n = expected.GetLength(1);
        for (int i = 0; i < m; i++)
        {
            var x = at.Detach().RequireGrad();
            var row = f(x).Backward(Unit(m, i)).Of(x).ToArray<double>();
            for (int j = 0; j < n; j++) Assert.Equal(expected[i, j], row[j], 13);
        }
        for (int j = 0; j < n; j++)
        {
            var col = Autograd.Jvp(f, at, Unit(n, j)).Tangent.ToArray<double>();
            for (int i = 0; i < m; i++) Assert.Equal(expected[i, j], col[i], 13);
        }
    }

    private static Tensor Unit(int n, int i)
    {
        var e = new double[n];
        e[i] = 1;
        return Tensor.FromArray(e);
    }

    // ---------- Example 9.3.1: reverse mode on σ(x, y, z, w) = 1/(w + exp(z + cos(y x²))) ----------

    // At (1/2, π, 1, 1): p = 1/4, q = π/4, r = √2/2, s = 1 + √2/2, t = eˢ, u = 1 + t              (9.35)–(9.36)
    private static readonly double S = 1 + Math.Sqrt(2) / 2;
    private static readonly double T = Math.Exp(S);
    private static readonly double U = 1 + T;

    private static Tensor Sigma(Tensor x, Tensor y, Tensor z, Tensor w)
    {
        var p = x.Square();   // (9.27)
        var q = y * p;        // (9.28)
        var r = q.Cos();      // (9.29)
        var s = z + r;        // (9.30)
        var t = s.Exp();      // (9.31)
        var u = w + t;        // (9.32)
        return u.Reciprocal(); // (9.33)
    }

    [Fact]
    public void Example_9_3_1_forward_value_matches_eq_9_36()
    {
        var v = Sigma(F64(0.5), F64(Math.PI), F64(1), F64(1));
        Assert.Equal(1 / U, v.Item(), 15);
    }

    [Fact]
    public void Example_9_3_1_reverse_mode_gradient_matches_the_text_with_erratum_E3_corrected()
    {
        // Backward from σ_u = −1/u² (9.44):
        //   σ_w = σ_t = −1/u²                                          (9.45), (9.46), (9.57)
        //   σ_s = σ_z = σ_r = −t/u²                                    (9.47)–(9.49), (9.56)
        //   σ_q = σ_r·(−sin q) = (√2/2)·t/u²                           (9.50)
        //   σ_y = σ_q·p = √2 t/(8u²)                                   (9.55)
        //   σ_p = σ_q·y = π√2 t/(2u²);  σ_x = σ_p·2x = π√2 t/(2u²)   — not /(4u²) as printed in (9.53)/(9.54) (E-3)
        var x = F64(0.5).RequireGrad();
        var y = F64(Math.PI).RequireGrad();
        var z = F64(1).RequireGrad();
        var w = F64(1).RequireGrad();
        var grads = Sigma(x, y, z, w).Backward();

        double u2 = U * U;
        double sx = Math.PI * Math.Sqrt(2) * T / (2 * u2);
        Assert.Equal(sx, grads.Of(x).Item(), 14);
        Assert.Equal(0.2887097, grads.Of(x).Item(), 7);
        Assert.NotEqual(Math.Round(Math.PI * Math.Sqrt(2) * T / (4 * u2), 7), Math.Round(grads.Of(x).Item(), 7)); // the misprint
        Assert.Equal(Math.Sqrt(2) * T / (8 * u2), grads.Of(y).Item(), 14);
        Assert.Equal(-T / u2, grads.Of(z).Item(), 14);
        Assert.Equal(-1 / u2, grads.Of(w).Item(), 14);
    }

    [Fact]
    public void Example_9_3_1_forward_mode_gives_the_same_partials()
    {
        // One JVP per input direction: the four columns of the 1×4 Jacobian.
        double[] at = [0.5, Math.PI, 1, 1];
        double u2 = U * U;
        double[] expected = [Math.PI * Math.Sqrt(2) * T / (2 * u2), Math.Sqrt(2) * T / (8 * u2), -T / u2, -1 / u2];
        for (int k = 0; k < 4; k++)
        {
            var xs = at.Select(v => F64(v)).ToArray();
            var vs = at.Select((_, i) => F64(i == k ? 1 : 0)).ToArray();
            var (_, tangent) = Autograd.Jvp(a => Sigma(a[0], a[1], a[2], a[3]), xs, vs);
            Assert.Equal(expected[k], tangent.Item(), 14);
        }
    }

    [Fact]
    public void Example_9_3_1_graph_has_seven_elementary_nodes()
    {
        // Fig 9.2: the elementary functions p, q, r, s, t, u, v — one recorded node each.
        var leaves = new[] { 0.5, Math.PI, 1, 1 }.Select(v => F64(v).RequireGrad()).ToArray();
        var (nodes, _) = Autograd.GraphSize(Sigma(leaves[0], leaves[1], leaves[2], leaves[3]));
        Assert.Equal(7, nodes);
    }

    // ---------- Example 9.3.2: fan-out, f(x, y, z) = sin(xy + xz + yz) ----------

    [Theory]
    [InlineData(0.5, -1.0, 2.0)]
    [InlineData(1.0, 1.0, 1.0)]
    [InlineData(-0.3, 0.7, 0.2)]
    public void Example_9_3_2_fan_out_gradient_is_cos_times_pair_sums(double x0, double y0, double z0)
    {
        // Each input feeds two products, so its cotangent is the sum of two paths:
        // ∂f/∂x = cos(xy + xz + yz)·(y + z), ∂f/∂y = cos(·)·(x + z), ∂f/∂z = cos(·)·(x + y).
        var x = F64(x0).RequireGrad();
        var y = F64(y0).RequireGrad();
        var z = F64(z0).RequireGrad();
        var grads = (x * y + x * z + y * z).Sin().Backward();
        double c = Math.Cos(x0 * y0 + x0 * z0 + y0 * z0);
        Assert.Equal(c * (y0 + z0), grads.Of(x).Item(), 14);
        Assert.Equal(c * (x0 + z0), grads.Of(y).Item(), 14);
        Assert.Equal(c * (x0 + y0), grads.Of(z).Item(), 14);
    }
}
