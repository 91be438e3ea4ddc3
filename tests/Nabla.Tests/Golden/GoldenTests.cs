using System.Text;
using System.Text.Json;

using static Nabla.Tests.Golden.GoldenJson;

namespace Nabla.Tests.Golden;

/// <summary>
/// Golden values from PyTorch: every case in Golden/ops.json and Golden/networks.json (written by
/// scripts/golden/make_golden.py with torch 1.13) is replayed through Nabla, and its output and gradients are compared
/// with PyTorch's. The gradients are those of (output · cotangent).Sum() for a stored random cotangent, so
/// non-scalar outputs are checked through a full vector-Jacobian product.
/// </summary>
public class GoldenTests
{
    private static readonly Lazy<JsonElement[]> OpCases = new(() => Load("ops.json"));
    private static readonly Lazy<JsonElement[]> NetworkCases = new(() => Load("networks.json"));

    private static JsonElement[] Load(string file)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Golden", file);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToArray();
    }

    public static TheoryData<string> OpCaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in OpCases.Value) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    public static TheoryData<string> NetworkNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in NetworkCases.Value) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    // ------------------------------------------------------------------------------------------------------------
    // The op table: each "op" of ops.json and the Nabla call that computes it from the case's inputs and params.

    private static readonly Dictionary<string, Func<Tensor[], JsonElement, Tensor>> Ops = new()
    {
        // binary elementwise (broadcasting)
        ["add"] = (x, _) => x[0] + x[1],
        ["sub"] = (x, _) => x[0] - x[1],
        ["mul"] = (x, _) => x[0] * x[1],
        ["div"] = (x, _) => x[0] / x[1],
        ["pow"] = (x, _) => x[0].Pow(x[1]),
        ["pow_scalar"] = (x, p) => x[0].Pow(Dbl(p, "exponent")),
        ["add_scalar"] = (x, p) => x[0] + Dbl(p, "value"),
        ["rsub_scalar"] = (x, p) => Dbl(p, "value") - x[0],
        ["mul_scalar"] = (x, p) => x[0] * Dbl(p, "value"),
        ["rdiv_scalar"] = (x, p) => Dbl(p, "value") / x[0],
        ["maximum"] = (x, _) => x[0].Maximum(x[1]),
        ["minimum"] = (x, _) => x[0].Minimum(x[1]),

        // unary elementwise
        ["neg"] = (x, _) => -x[0],
        ["exp"] = (x, _) => x[0].Exp(),
        ["log"] = (x, _) => x[0].Log(),
        ["log1p"] = (x, _) => x[0].Log1p(),
        ["sqrt"] = (x, _) => x[0].Sqrt(),
        ["abs"] = (x, _) => x[0].Abs(),
        ["sin"] = (x, _) => x[0].Sin(),
        ["cos"] = (x, _) => x[0].Cos(),
        ["tanh"] = (x, _) => x[0].Tanh(),
        ["sigmoid"] = (x, _) => x[0].Sigmoid(),
        ["relu"] = (x, _) => x[0].Relu(),
        ["square"] = (x, _) => x[0].Square(),
        ["reciprocal"] = (x, _) => x[0].Reciprocal(),
        ["clamp"] = (x, p) => x[0].Clamp(NullableDbl(p, "min"), NullableDbl(p, "max")),

        // reductions
        ["sum"] = (x, p) => x[0].Sum(Axes(p), Bool(p, "keepdim")),
        ["mean"] = (x, p) => x[0].Mean(Axes(p), Bool(p, "keepdim")),
        ["var"] = (x, p) => x[0].Var(Axes(p), Bool(p, "keepdim"), Int(p, "correction")),
        ["amax"] = (x, p) => x[0].Max(Axes(p), Bool(p, "keepdim")),
        ["amin"] = (x, p) => x[0].Min(Axes(p), Bool(p, "keepdim")),
        ["logsumexp"] = (x, p) => x[0].LogSumExp(Int(p, "axis"), Bool(p, "keepdim")),
        ["softmax"] = (x, p) => x[0].Softmax(Int(p, "axis")),
        ["log_softmax"] = (x, p) => x[0].LogSoftmax(Int(p, "axis")),

        // linear algebra
        ["matmul"] = (x, _) => x[0].MatMul(x[1]),
        ["matmul_transposed_lhs"] = (x, _) => x[0].T.MatMul(x[1]),

        // movement
        ["reshape"] = (x, p) => x[0].Reshape(Ints(p, "shape")),
        ["permute"] = (x, p) => x[0].Permute(Ints(p, "dims")),
        ["permute_reshape"] = (x, p) => x[0].Permute(Ints(p, "dims")).Reshape(Ints(p, "shape")),
        ["transpose"] = (x, p) => x[0].Transpose(Int(p, "dim0"), Int(p, "dim1")),
        ["expand"] = (x, p) => x[0].Expand(Ints(p, "shape")),
        ["narrow"] = (x, p) => x[0].Narrow(Int(p, "axis"), Int(p, "start"), Int(p, "length")),
        ["slice"] = (x, p) => x[0].Slice(Int(p, "axis"), Int(p, "start"), Int(p, "end"), Int(p, "step")),
        ["select"] = (x, p) => x[0].Select(Int(p, "axis"), Int(p, "index")),
        ["unsqueeze"] = (x, p) => x[0].Unsqueeze(Int(p, "axis")),

        // joining and indexing
        ["cat"] = (x, p) => Tensor.Cat(x, Int(p, "axis")),
        ["stack"] = (x, p) => Tensor.Stack(x, Int(p, "axis")),
        ["gather"] = (x, p) => x[0].Gather(Int(p, "axis"), x[1]),
        ["scatter_add"] = (x, p) => x[0].ScatterAdd(Int(p, "axis"), x[1], x[2]),
        ["where"] = (x, _) => Tensor.Where(x[0], x[1], x[2]),
        ["index_select"] = (x, p) => x[0].IndexSelect(Int(p, "axis"), x[1]),
        ["one_hot"] = (x, p) => x[0].OneHot(Int(p, "classes")),

        // ops on non-contiguous views (exercise the strided kernel paths)
        ["transpose_sum"] = (x, p) => x[0].Transpose(Int(p, "dim0"), Int(p, "dim1")).Sum(Axes(p), Bool(p, "keepdim")),
        ["transpose_amax"] = (x, p) => x[0].Transpose(Int(p, "dim0"), Int(p, "dim1")).Max(Axes(p), Bool(p, "keepdim")),
        ["transpose_softmax"] = (x, p) => x[0].Transpose(Int(p, "dim0"), Int(p, "dim1")).Softmax(Int(p, "axis")),
        ["slice_exp"] = (x, p) => x[0].Slice(Int(p, "axis"), Int(p, "start"), Int(p, "end"), Int(p, "step")).Exp(),
        ["transpose_add"] = (x, _) => x[0].T + x[1],
        ["cat_transposed"] = (x, p) => Tensor.Cat([x[0].T, x[1]], Int(p, "axis")),

        // small compositions
        ["mse"] = (x, _) => (x[0] - x[1]).Square().Mean(),
        ["softplus_by_hand"] = (x, _) => x[0].Exp().Log1p(),
        ["layernorm_by_hand"] = (x, p) =>
            (x[0] - x[0].Mean(-1, keepDim: true)) / (x[0].Var(-1, keepDim: true, correction: 0) + Dbl(p, "eps")).Sqrt(),
    };

    [Theory]
    [MemberData(nameof(OpCaseNames))]
    public void Op_matches_pytorch(string name)
    {
        var c = OpCases.Value.Single(e => e.GetProperty("name").GetString() == name);
        var op = c.GetProperty("op").GetString()!;
        Assert.True(Ops.TryGetValue(op, out var f), $"op '{op}' of case '{name}' is not in the GoldenTests op table");

        var specs = c.GetProperty("inputs").EnumerateArray().ToArray();
        var inputs = specs.Select(ReadInput).ToArray();
        var y = f!(inputs, c.GetProperty("params"));

        var failures = new StringBuilder();
        Compare(y, c.GetProperty("output"), "output", failures);

        var cot = c.GetProperty("cotangent");
        if (cot.ValueKind != JsonValueKind.Null)
        {
            var grads = (y * ReadFloat(cot)).Sum().Backward();
            var expected = c.GetProperty("grads").EnumerateArray().ToArray();
            for (int i = 0; i < inputs.Length; i++)
                if (expected[i].ValueKind != JsonValueKind.Null)
                    Compare(grads.Of(inputs[i]), expected[i], $"gradient of input {i}", failures);
        }
        Assert.True(failures.Length == 0, $"case '{name}' ({op}) differs from PyTorch:\n{failures}");
    }

    /// <summary>y = x·Wᵀ + b, the nn.Linear convention (W is [out, in]).</summary>
    private static Tensor Linear(Tensor x, Tensor w, Tensor b) => x.MatMul(w.T) + b;

    /// <summary>Network architectures of networks.json, built from raw tensor ops.</summary>
    private static readonly Dictionary<string, Func<Dictionary<string, Tensor>, Dictionary<string, Tensor>, Tensor>> Networks = new()
    {
        // x → Linear → ReLU → Linear → cross-entropy with class indices (mean of −log softmax at the target)
        ["relu_ce"] = (d, w) =>
        {
            var logits = Linear(Linear(d["x"], w["w1"], w["b1"]).Relu(), w["w2"], w["b2"]);
            return -logits.LogSoftmax(1).Gather(1, d["target"].Unsqueeze(1)).Mean();
        },
        // x → Linear → tanh → Linear → mean squared error
        ["tanh_mse"] = (d, w) =>
        {
            var pred = Linear(Linear(d["x"], w["w1"], w["b1"]).Tanh(), w["w2"], w["b2"]);
            return (pred - d["y"]).Square().Mean();
        },
        // x → (Linear → sigmoid) ×3 → binary cross-entropy against 0/1 targets
        ["sigmoid3_bce"] = (d, w) =>
        {
            var h = Linear(d["x"], w["w1"], w["b1"]).Sigmoid();
            h = Linear(h, w["w2"], w["b2"]).Sigmoid();
            var p = Linear(h, w["w3"], w["b3"]).Sigmoid();
            var y = d["y"];
            return -(y * p.Log() + (1 - y) * (1 - p).Log()).Mean();
        },
    };

    [Theory]
    [MemberData(nameof(NetworkNames))]
    public void Network_loss_and_weight_gradients_match_pytorch(string name)
    {
        var c = NetworkCases.Value.Single(e => e.GetProperty("name").GetString() == name);
        var arch = c.GetProperty("arch").GetString()!;
        Assert.True(Networks.TryGetValue(arch, out var build), $"architecture '{arch}' of network '{name}' is not in the GoldenTests table");

        var data = c.GetProperty("data").EnumerateObject().ToDictionary(p => p.Name, p => ReadInput(p.Value));
        var weights = c.GetProperty("weights").EnumerateArray()
            .ToDictionary(e => e.GetProperty("name").GetString()!, e => ReadFloat(e).RequireGrad());

        var loss = build!(data, weights);
        var failures = new StringBuilder();
        CompareValues(loss.ToArray<double>(), [c.GetProperty("loss").GetDouble()], "loss", failures);

        var grads = loss.Backward();
        foreach (var g in c.GetProperty("grads").EnumerateArray())
        {
            var wname = g.GetProperty("name").GetString()!;
            Compare(grads.Of(weights[wname]), g, $"gradient of {wname}", failures);
        }
        Assert.True(failures.Length == 0, $"network '{name}' differs from PyTorch:\n{failures}");
    }

    [Fact]
    public void Every_op_in_the_table_has_a_golden_case()
    {
        var covered = OpCases.Value.Select(c => c.GetProperty("op").GetString()!).ToHashSet();
        var missing = Ops.Keys.Where(k => !covered.Contains(k)).Order().ToArray();
        Assert.True(missing.Length == 0, $"ops.json has no case for: {string.Join(", ", missing)} (re-run scripts/golden/make_golden.py)");
    }

    [Fact]
    public void Every_golden_case_has_an_op_in_the_table()
    {
        var unknown = OpCases.Value.Select(c => c.GetProperty("op").GetString()!).Where(op => !Ops.ContainsKey(op)).Distinct().ToArray();
        Assert.True(unknown.Length == 0, $"ops.json uses ops missing from the GoldenTests table: {string.Join(", ", unknown)}");
        var archs = NetworkCases.Value.Select(c => c.GetProperty("arch").GetString()!).ToHashSet();
        var missingArchs = Networks.Keys.Where(k => !archs.Contains(k)).ToArray();
        Assert.True(missingArchs.Length == 0, $"networks.json has no case for: {string.Join(", ", missingArchs)}");
    }

    [Fact]
    public void Golden_case_names_are_unique()
    {
        var names = OpCases.Value.Concat(NetworkCases.Value).Select(c => c.GetProperty("name").GetString()!).ToArray();
        Assert.Equal(names.Length, names.Distinct().Count());
    }
}
