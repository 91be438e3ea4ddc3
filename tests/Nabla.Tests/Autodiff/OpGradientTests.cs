using Nabla.Autodiff;
using Nabla.Kernels;

namespace Nabla.Tests.Autodiff;

/// <summary>
/// One row per differentiable op: the full Jacobian from reverse mode (VJP) and from forward mode (JVP) must match
/// central finite differences in float64. Inputs are drawn from a domain where the op is smooth (positive for
/// log/sqrt, away from 0 for relu/abs, away from ties for max/min), and shapes are tiny so the whole table is fast.
/// </summary>
public class OpGradientTests
{
    private sealed record Case(Func<Tensor[], Tensor> F, Tensor[] Inputs);

    // Value domains: each input element is drawn uniformly from the domain and, for "away from zero" domains,
    // gets a random sign.
    private static Tensor Any(params int[] shape) => Draw(shape, -2, 2, signed: false);

    private static Tensor Positive(params int[] shape) => Draw(shape, 0.5, 2, signed: false);

    /// <summary>|x| in [0.3, 2] with random signs: no element near a kink at 0.</summary>
    private static Tensor AwayFromZero(params int[] shape) => Draw(shape, 0.3, 2, signed: true);

    private static int _seed = 1;

    private static Tensor Draw(int[] shape, double low, double high, bool signed)
    {
        var g = new Generator((ulong)Interlocked.Increment(ref _seed));
        var values = Tensor.Uniform(shape, low, high, g, DType.Float64).ToArray<double>();
        if (signed)
            for (int i = 0; i < values.Length; i++) values[i] *= g.NextDouble() < 0.5 ? -1 : 1;
        return Tensor.FromArray(values).Reshape(shape);
    }

    /// <summary>Distinct values spread out by at least 0.25, shuffled: max/min/argmax have no ties or near-ties.</summary>
    private static Tensor Distinct(params int[] shape)
    {
        int n = shape.Aggregate(1, (p, d) => p * d);
        var g = new Generator((ulong)Interlocked.Increment(ref _seed));
        var perm = g.Permutation(n);
        var values = perm.Select(p => -1.5 + 0.25 * p + 0.05 * g.NextDouble()).ToArray();
        return Tensor.FromArray(values).Reshape(shape);
    }

    /// <summary>
    /// x, W and b for x·Wᵀ + b (x of <paramref name="shape"/>, <paramref name="outputs"/> outputs) whose every element
    /// lies at least 0.05 from 0, some on each side: fresh draws until one is (checked by
    /// <see cref="Fused_linear_relu_cases_straddle_the_kink"/>), so the finite differences never cross ReLU's kink.
    /// </summary>
    private static Tensor[] KinkFree(int[] shape, int outputs)
    {
        while (true)
        {
            Tensor x = Any(shape), w = Any(outputs, shape[^1]), b = Any(outputs);
            var z = x.Linear(w, b).ToArray<double>();
            if (z.All(v => Math.Abs(v) >= 0.05) && z.Any(v => v < 0) && z.Any(v => v > 0)) return [x, w, b];
        }
    }

    private static Tensor Index(long[] values, params int[] shape) => Tensor.FromArray(values).Reshape(shape);

    private static readonly Dictionary<string, Case> Table = Build();

    private static Dictionary<string, Case> Build()
    {
        var t = new Dictionary<string, Case>();
        void Add(string name, Func<Tensor[], Tensor> f, params Tensor[] inputs) => t.Add(name, new Case(f, inputs));

        // Binary arithmetic, same shape and broadcast.
        Add("add [2,3]+[2,3]", x => x[0] + x[1], Any(2, 3), Any(2, 3));
        Add("add broadcast [3,1]+[4]", x => x[0] + x[1], Any(3, 1), Any(4));
        Add("add scalar tensor [2,2]+[]", x => x[0] + x[1], Any(2, 2), Any());
        Add("add double constant", x => x[0] + 1.5, Any(3));
        Add("sub [2,3]-[3]", x => x[0] - x[1], Any(2, 3), Any(3));
        Add("sub broadcast [3]-[2,1]", x => x[0] - x[1], Any(3), Any(2, 1));
        Add("sub from constant 2-x", x => 2.0 - x[0], Any(3));
        Add("neg", x => -x[0], Any(2, 3));
        Add("mul [2,3]*[3]", x => x[0] * x[1], Any(2, 3), Any(3));
        Add("mul broadcast [2,1,3]*[4,1]", x => x[0] * x[1], Any(2, 1, 3), Any(4, 1));
        Add("mul by constant", x => x[0] * -2.5, Any(4));
        Add("mul self x*x", x => x[0] * x[0], Any(4));
        Add("div [2,3]/[3]", x => x[0] / x[1], Any(2, 3), AwayFromZero(3));
        Add("div broadcast [3,1]/[1,2]", x => x[0] / x[1], Any(3, 1), AwayFromZero(1, 2));
        Add("div constant by tensor 1/x", x => 1.0 / x[0], AwayFromZero(4));

        // Unary elementwise, each on a domain where it is smooth.
        Add("exp", x => x[0].Exp(), Any(2, 3));
        Add("log (x>0)", x => x[0].Log(), Positive(2, 3));
        Add("log1p (x>-1)", x => x[0].Log1p(), Draw([2, 3], -0.5, 2, signed: false));
        Add("sqrt (x>0)", x => x[0].Sqrt(), Positive(2, 3));
        Add("abs (x!=0)", x => x[0].Abs(), AwayFromZero(2, 3));
        Add("sign (x!=0) has zero gradient", x => x[0].Sign() * x[0], AwayFromZero(5));
        Add("sin", x => x[0].Sin(), Any(2, 3));
        Add("cos", x => x[0].Cos(), Any(2, 3));
        Add("tanh", x => x[0].Tanh(), Any(2, 3));
        Add("sigmoid", x => x[0].Sigmoid(), Draw([2, 3], -4, 4, signed: false));
        Add("relu (x!=0)", x => x[0].Relu(), AwayFromZero(2, 3));
        Add("square", x => x[0].Square(), Any(2, 3));
        Add("reciprocal (x!=0)", x => x[0].Reciprocal(), AwayFromZero(2, 3));

        // Powers: constant exponents (including the x^2 shortcut) and both operands differentiable.
        Add("pow x^3", x => x[0].Pow(3), Any(5));
        Add("pow x^2 (square path)", x => x[0].Pow(2), Any(5));
        Add("pow x^0.5 (x>0)", x => x[0].Pow(0.5), Positive(5));
        Add("pow x^-1.5 (x>0)", x => x[0].Pow(-1.5), Positive(5));
        Add("pow a^b both differentiable", x => x[0].Pow(x[1]), Positive(2, 3), Any(2, 3));
        Add("pow a^b broadcast [2,3]^[3]", x => x[0].Pow(x[1]), Positive(2, 3), Any(3));
        Add("pow constant base 2^b", x => Tensor.FullLike(x[0], 2.0).Pow(x[0]), Any(4));

        // Elementwise extrema, away from ties.
        Add("maximum (no ties)", x => x[0].Maximum(x[1]), Distinct(2, 3), Distinct(2, 3));
        Add("minimum (no ties)", x => x[0].Minimum(x[1]), Distinct(2, 3), Distinct(2, 3));
        Add("maximum broadcast [2,3] vs [3]", x => x[0].Maximum(x[1]), Distinct(2, 3), Distinct(3) * 1.03 + 0.11);
        Add("clamp(-0.5, 0.7) away from bounds", x => x[0].Clamp(-0.5, 0.7),
            Tensor.FromArray(new[] { -1.3, -0.9, -0.2, 0.1, 0.5, 0.9, 1.4 }));
        Add("clamp min only", x => x[0].Clamp(min: 0.0), AwayFromZero(6));
        Add("clamp max only", x => x[0].Clamp(max: 0.0), AwayFromZero(6));

        // Reductions.
        Add("sum all", x => x[0].Sum(), Any(2, 3));
        Add("sum axis 1", x => x[0].Sum(1), Any(2, 3));
        Add("sum axis 0 keepDim", x => x[0].Sum(0, keepDim: true), Any(2, 3));
        Add("sum axes [0,2] of [2,3,2]", x => x[0].Sum([0, 2]), Any(2, 3, 2));
        Add("sum axis -1 keepDim of [2,2,3]", x => x[0].Sum(-1, keepDim: true), Any(2, 2, 3));
        Add("mean all", x => x[0].Mean(), Any(2, 3));
        Add("mean axis 0", x => x[0].Mean(0), Any(3, 2));
        Add("mean axis 1 keepDim", x => x[0].Mean(1, keepDim: true), Any(2, 3));
        Add("var all (Bessel)", x => x[0].Var(), Any(2, 3));
        Add("var axis 1 keepDim", x => x[0].Var(1, keepDim: true), Any(2, 3));
        Add("var axis 0 correction 0", x => x[0].Var(0, correction: 0), Any(3, 2));
        Add("max all (no ties)", x => x[0].Max(), Distinct(2, 3));
        Add("max axis 1", x => x[0].Max(1), Distinct(2, 3));
        Add("max axis 0 keepDim", x => x[0].Max(0, keepDim: true), Distinct(3, 2));
        Add("min axis 1", x => x[0].Min(1), Distinct(2, 3));
        Add("min axes [0,1] keepDim of [2,2,2]", x => x[0].Min([0, 1], keepDim: true), Distinct(2, 2, 2));
        Add("logsumexp axis 1", x => x[0].LogSumExp(1), Any(2, 3));
        Add("logsumexp axis 0 keepDim", x => x[0].LogSumExp(0, keepDim: true), Any(3, 2));
        Add("softmax axis 1", x => x[0].Softmax(1), Any(2, 3));
        Add("softmax axis 0", x => x[0].Softmax(0), Any(3, 2));
        Add("logsoftmax axis 1", x => x[0].LogSoftmax(1), Any(2, 3));
        Add("logsoftmax axis -1 of [2,1,3]", x => x[0].LogSoftmax(-1), Any(2, 1, 3));
        Add("logsoftmax axis 0 of [3,2]", x => x[0].LogSoftmax(0), Any(3, 2));
        Add("logsoftmax axis 1 of [2,3,4]", x => x[0].LogSoftmax(1), Any(2, 3, 4));
        Add("logsoftmax of a transposed [3,4]", x => x[0].T.LogSoftmax(1), Any(3, 4));

        // Matrix products.
        Add("matmul [2,3]@[3,2]", x => x[0].MatMul(x[1]), Any(2, 3), Any(3, 2));
        Add("matmul batched [2,2,3]@[2,3,2]", x => x[0].MatMul(x[1]), Any(2, 2, 3), Any(2, 3, 2));
        Add("matmul broadcast [2,2,3]@[3,2]", x => x[0].MatMul(x[1]), Any(2, 2, 3), Any(3, 2));
        Add("matmul broadcast [2,3]@[2,3,2]", x => x[0].MatMul(x[1]), Any(2, 3), Any(2, 3, 2));
        Add("matmul batch broadcast [2,1,1,3]@[3,2]", x => x[0].MatMul(x[1]), Any(2, 1, 1, 3), Any(2, 1, 3, 2));
        Add("matmul vector-matrix [3]@[3,2]", x => x[0].MatMul(x[1]), Any(3), Any(3, 2));
        Add("matmul matrix-vector [2,3]@[3]", x => x[0].MatMul(x[1]), Any(2, 3), Any(3));
        Add("dot [4]·[4]", x => x[0].Dot(x[1]), Any(4), Any(4));
        Add("matmul of transposed view", x => x[0].T.MatMul(x[1]), Any(3, 2), Any(3, 2));
        Add("linear x·Wᵀ+b [3,4]·[2,4]ᵀ+[2]", x => x[0].Linear(x[1], x[2]), Any(3, 4), Any(2, 4), Any(2));
        Add("linear of rank 3 [2,2,3]·[4,3]ᵀ+[4]", x => x[0].Linear(x[1], x[2]), Any(2, 2, 3), Any(4, 3), Any(4));
        Add("linear of a vector [3]·[2,3]ᵀ+[2]", x => x[0].Linear(x[1], x[2]), Any(3), Any(2, 3), Any(2));
        Add("linear of a transposed input", x => x[0].T.Linear(x[1], x[2]), Any(4, 3), Any(2, 4), Any(2));

        // Movement ops (views and copies).
        Add("reshape [2,3]->[3,2]", x => x[0].Reshape(3, 2) * Arange(6, 3, 2), Any(2, 3));
        Add("reshape with -1", x => x[0].Reshape(-1, 2) * Arange(6, 3, 2), Any(2, 3));
        Add("reshape of non-contiguous view", x => x[0].T.Reshape(6) * Arange(6, 6), Any(2, 3));
        Add("flatten [2,2,2]", x => x[0].Flatten(1) * Arange(8, 2, 4), Any(2, 2, 2));
        Add("permute [2,3,2] by (2,0,1)", x => x[0].Permute(2, 0, 1) * Arange(12, 2, 2, 3), Any(2, 3, 2));
        Add("transpose (0,1)", x => x[0].Transpose(0, 1) * Arange(6, 3, 2), Any(2, 3));
        Add("transpose T then contiguous", x => x[0].T.Contiguous() * Arange(6, 3, 2), Any(2, 3));
        Add("expand [3,1]->[2,3,4]", x => x[0].Expand(2, 3, 4) * Arange(24, 2, 3, 4), Any(3, 1));
        Add("expand with -1 [1,3]->[2,-1]", x => x[0].Expand(2, -1) * Arange(6, 2, 3), Any(1, 3));
        Add("slice axis 1 [1:4]", x => x[0].Slice(1, 1, 4), Any(2, 5));
        Add("slice with step 2", x => x[0].Slice(0, 0, 5, 2), Any(5, 2));
        Add("slice negative bounds", x => x[0].Slice(-1, -3, -1), Any(2, 4));
        Add("narrow axis 0", x => x[0].Narrow(0, 1, 2), Any(4, 2));
        Add("select axis 1 index -1", x => x[0].Select(1, -1), Any(3, 3));
        Add("squeeze all", x => x[0].Squeeze() * Arange(3, 3), Any(1, 3, 1));
        Add("squeeze axis 0", x => x[0].Squeeze(0) * Arange(6, 2, 3), Any(1, 2, 3));
        Add("unsqueeze axis -1", x => x[0].Unsqueeze(-1) * Arange(6, 2, 3, 1), Any(2, 3));
        Add("clone", x => x[0].Clone() * Arange(4, 4), Any(4));
        Add("to float64 (identity)", x => x[0].To(DType.Float64).Square(), Any(3));
        Add("overlapping slices summed", x => x[0].Slice(0, 0, 3) * x[0].Slice(0, 1, 4), Any(4));

        // Joining, splitting and indexing.
        Add("cat axis 0 of three", x => Tensor.Cat([x[0], x[1], x[2]]), Any(1, 2), Any(2, 2), Any(1, 2));
        Add("cat axis 1", x => Tensor.Cat([x[0], x[1]], 1), Any(2, 1), Any(2, 3));
        Add("stack axis 0", x => Tensor.Stack([x[0], x[1]]), Any(2, 2), Any(2, 2));
        Add("stack axis -1", x => Tensor.Stack([x[0], x[1]], -1), Any(3), Any(3));
        Add("split by size, reordered", x =>
        {
            var parts = x[0].Split(2, 1);
            return Tensor.Cat([parts[2], parts[0] * 2, parts[1].Square()], 1);
        }, Any(2, 5));
        Add("split by sizes [1,3]", x =>
        {
            var parts = x[0].Split([1, 3], 0);
            return parts[1] * parts[0];
        }, Any(4, 2));
        Add("gather axis 1 with repeats", x => x[0].Gather(1, Index([2, 2, 0, 1, 1, 0], 2, 3)), Any(2, 3));
        Add("gather axis 0 smaller index", x => x[0].Gather(0, Index([3, 0, 0, 2], 2, 2)), Any(4, 2));
        Add("scatter-add base and src", x => x[0].ScatterAdd(1, Index([0, 0, 2, 1, 1, 1], 2, 3), x[1]), Any(2, 4), Any(2, 3));
        Add("scatter-add axis 0", x => x[0].ScatterAdd(0, Index([1, 0, 1, 1], 2, 2), x[1] * x[1]), Any(3, 2), Any(2, 2));
        Add("where both branches", x => Tensor.Where(Tensor.FromArray(new[] { true, false, true, false, false, true }, 2, 3), x[0], x[1]),
            Any(2, 3), Any(2, 3));
        Add("where broadcast cond [3], a [2,3], b [1]", x => Tensor.Where(Tensor.FromArray(new[] { false, true, true }), x[0], x[1]),
            Any(2, 3), Any(1));
        Add("where with constant branch", x => Tensor.Where(x[0].Gt(0), x[0].Square(), Tensor.Scalar(0.5, DType.Float64)),
            AwayFromZero(6));
        Add("index-select axis 0 with repeats", x => x[0].IndexSelect(0, Index([2, 0, 2], 3)), Any(3, 2));
        Add("index-select axis 1", x => x[0].IndexSelect(1, Index([1, 3], 2)), Any(2, 4));
        Add("one-hot mask (constant) times x", x => x[0] * Index([2, 0, 1], 3).OneHot(3, DType.Float64), Any(3, 3));

        // Small compositions, each exercising several rules at once.
        Add("cross-entropy: -logsoftmax gathered", x =>
            -x[0].LogSoftmax(1).Gather(1, Index([1, 0, 2], 3, 1)).Mean(), Any(3, 3));
        Add("layer: tanh(x@W + b)", x => x[0].MatMul(x[1]).Add(x[2]).Tanh(), Any(2, 3), Any(3, 2), Any(2));
        Add("layernorm-like", x =>
        {
            var c = x[0] - x[0].Mean(1, keepDim: true);
            return c / (x[0].Var(1, keepDim: true, correction: 0) + 1e-3).Sqrt();
        }, Any(2, 4));
        // The fused Linear and ReLU (a Sequential's Linear followed by ReLU), drawn away from its kink (see KinkFree).
        Add("linear+relu max(x·Wᵀ+b, 0) [3,4]·[5,4]ᵀ+[5]", x => x[0].LinearRelu(x[1], x[2]), KinkFree([3, 4], 5));
        Add("linear+relu of rank 3 [2,2,3]·[5,3]ᵀ+[5]", x => x[0].LinearRelu(x[1], x[2]), KinkFree([2, 2, 3], 5));
        return t;
    }

    /// <summary>Constant weights 1, 2, … shaped like an op's output, so each output element's gradient differs.</summary>
    private static Tensor Arange(int n, params int[] shape) => Tensor.Arange(1, n + 1, 1, DType.Float64).Reshape(shape);

    public static TheoryData<string> Cases => new(Table.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Vjp_and_jvp_match_central_differences(string op)
    {
        var c = Table[op];
        foreach (var x in c.Inputs) Assert.Equal(DType.Float64, x.DType);
        var report = GradCheck.Check(c.F, c.Inputs, eps: 1e-6, atol: 1e-6, rtol: 1e-5);
        Assert.True(report.Passed, $"{op}: {report.Detail}");
    }

    /// <summary>The fused rows above prove the masking only if some pre-activations are negative and none sit at the kink.</summary>
    [Fact]
    public void Fused_linear_relu_cases_straddle_the_kink()
    {
        foreach (var (name, c) in Table.Where(e => e.Key.StartsWith("linear+relu", StringComparison.Ordinal)))
        {
            var z = c.Inputs[0].Linear(c.Inputs[1], c.Inputs[2]).ToArray<double>();
            Assert.True(z.All(v => Math.Abs(v) >= 0.05), $"{name}: a pre-activation lies within 0.05 of the kink");
            Assert.Contains(z, v => v < 0);
            Assert.Contains(z, v => v > 0);
            Assert.Equal(z.Select(v => Math.Max(v, 0)), c.F(c.Inputs).ToArray<double>());
        }
    }

    [Fact]
    public void Gradcheck_catches_a_wrong_derivative()
    {
        // A function whose reverse-mode rule disagrees with its values: x·detach(x) has true derivative 2x but the
        // recorded graph only sees one factor. The checker must flag it, or every row above proves nothing.
        var x = Any(3);
        var report = GradCheck.Check(v => v[0] * v[0].Detach(), [x]);
        Assert.False(report.Passed);
        Assert.Contains("gradcheck failed", report.Detail);
        Assert.Throws<InvalidOperationException>(() => GradCheck.Assert(v => v[0] * v[0].Detach(), [x]));
    }

    [Fact]
    public void Numerical_gradient_of_a_known_function()
    {
        // f(x) = Σ sin(x_i)·x_i ⇒ ∂f/∂x_i = cos(x_i)·x_i + sin(x_i)
        var x = Tensor.FromArray(new[] { 0.3, -1.2, 2.0 });
        var g = GradCheck.NumericalGradient(v => (v.Sin() * v).Sum(), x).ToArray<double>();
        var xs = x.ToArray<double>();
        for (int i = 0; i < 3; i++) Assert.Equal(Math.Cos(xs[i]) * xs[i] + Math.Sin(xs[i]), g[i], 8);
    }
}
