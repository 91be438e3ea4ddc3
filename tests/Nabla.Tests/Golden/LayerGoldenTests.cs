using System.Text;
using System.Text.Json;
using Nabla.Nn;

using static Nabla.Tests.Golden.GoldenJson;

namespace Nabla.Tests.Golden;

/// <summary>
/// Golden values from PyTorch for the layers, losses and a small CNN of Nabla.Nn: every case in Golden/layers.json
/// (written by scripts/golden/make_layer_golden.py with torch 1.13 modules and torch.nn.functional) is rebuilt as the
/// Nabla module or loss, loaded with the case's weights and buffers, and run; its output, the gradients of
/// (output · cotangent).Sum() with respect to the input and every parameter, and the buffers after the pass (batch-norm
/// running statistics) are compared with PyTorch's.
/// </summary>
public class LayerGoldenTests
{
    // Tolerance: GoldenJson.Atol and Rtol, as for the ops (float32 arithmetic against float64 references computed from the same float32
    // inputs; rtol 1e-4 allows a few hundred ulps, atol 1e-5 covers results that cancel to ~0). The largest
    // reductions here (a convolution's weight gradient, a batch-norm channel) sum at most a few hundred terms.

    private static readonly Lazy<JsonElement[]> Cases = new(() =>
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Golden", "layers.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToArray();
    });

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases.Value) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    /// <summary>What a case runs: a function of its inputs, and the module whose parameters and buffers it uses (if any).</summary>
    private sealed record Subject(Func<Tensor[], Mode, Tensor> Run, Module? Module);

    private static Subject Layer(Module m) => new((x, mode) => m.Forward(x[0], mode), m);

    private static Subject Fn(Func<Tensor[], Tensor> f) => new((x, _) => f(x), null);

    // ------------------------------------------------------------------------------------------------------------
    // The table: each "kind" of layers.json and the Nabla module or loss it names, built from the case's params.

    private static readonly Dictionary<string, Func<JsonElement, Subject>> Kinds = new()
    {
        // layers (weights are loaded into the module by name afterwards; the generator only fills the initial values)
        ["conv2d"] = p => Layer(new Conv2d(Int(p, "in"), Int(p, "out"), Int(p, "kernel"), new Generator(0), Int(p, "stride"),
            Int(p, "padding"), Int(p, "dilation"), Int(p, "groups"), Bool(p, "bias"))),
        ["linear"] = p => Layer(new Linear(Int(p, "in"), Int(p, "out"), new Generator(0), Bool(p, "bias"))),
        ["maxpool2d"] = p => Layer(new MaxPool2d(Int(p, "kernel"), Int(p, "stride"), Int(p, "padding"))),
        ["avgpool2d"] = p => Layer(new AvgPool2d(Int(p, "kernel"), Int(p, "stride"), Int(p, "padding"))),
        ["global_max_pool"] = _ => Layer(new GlobalMaxPool2d()),
        ["global_avg_pool"] = _ => Layer(new GlobalAvgPool2d()),
        ["flatten"] = _ => Layer(new Flatten()),
        ["batchnorm1d"] = p => Layer(new BatchNorm1d(Int(p, "features"), Dbl(p, "eps"), Dbl(p, "momentum"))),
        ["batchnorm2d"] = p => Layer(new BatchNorm2d(Int(p, "features"), Dbl(p, "eps"), Dbl(p, "momentum"))),
        ["dropout"] = p => Layer(new Dropout(Dbl(p, "p"))),

        // activations
        ["relu"] = _ => Layer(new ReLU()),
        ["leaky_relu"] = p => Layer(new LeakyReLU(Dbl(p, "negative_slope"))),
        ["sigmoid"] = _ => Layer(new Sigmoid()),
        ["tanh"] = _ => Layer(new Tanh()),
        ["softplus"] = _ => Layer(new Softplus()),
        ["abs"] = _ => Layer(new Abs()),
        ["softmax"] = p => Layer(new Softmax(Int(p, "dim"))),
        ["log_softmax"] = p => Layer(new LogSoftmax(Int(p, "dim"))),

        // losses: inputs [prediction, target]
        ["mse"] = p => Fn(x => Loss.Mse(x[0], x[1], Red(p))),
        ["cross_entropy"] = p => Fn(x => Loss.CrossEntropy(x[0], x[1], Red(p))),
        ["bce_with_logits"] = p => Fn(x => Loss.BinaryCrossEntropyWithLogits(x[0], x[1], Red(p))),
        ["logistic"] = p => Fn(x => Loss.Logistic(x[0], x[1], Red(p))),
        ["hinge"] = p => Fn(x => Loss.Hinge(x[0], x[1], Red(p))),
        ["multi_margin"] = p => Fn(x => Loss.MultiMargin(x[0], x[1], Dbl(p, "margin"), Red(p))),
        ["l2"] = p => Fn(x => Loss.L2(x, Dbl(p, "lambda"))),

        // conv(1→4, 3×3, pad 1) → ReLU → MaxPool 2 → conv(4→8, 3×3) → ReLU → global average pool → Linear(8→3) → cross-entropy
        ["small_cnn_ce"] = _ =>
        {
            var g = new Generator(0);
            var model = new Sequential(
                new Conv2d(1, 4, 3, g, padding: 1), new ReLU(), new MaxPool2d(2),
                new Conv2d(4, 8, 3, g), new ReLU(), new GlobalAvgPool2d(), new Linear(8, 3, g));
            return new Subject((x, mode) => Loss.CrossEntropy(model.Forward(x[0], mode), x[1]), model);
        },
    };

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Layer_matches_pytorch(string name)
    {
        var c = Cases.Value.Single(e => e.GetProperty("name").GetString() == name);
        var kind = c.GetProperty("kind").GetString()!;
        Assert.True(Kinds.TryGetValue(kind, out var build), $"kind '{kind}' of case '{name}' is not in the LayerGoldenTests table");
        var subject = build!(c.GetProperty("params"));
        var failures = new StringBuilder();

        // parameters: the golden list must name exactly the module's parameters (so every one gets its gradient checked)
        var parameters = subject.Module?.NamedParameters().ToDictionary(p => p.Name, p => p.Value) ?? new Dictionary<string, Tensor>();
        var weights = c.GetProperty("weights").EnumerateArray().ToArray();
        var goldenNames = weights.Select(w => w.GetProperty("name").GetString()!).ToArray();
        Assert.True(parameters.Keys.Order().SequenceEqual(goldenNames.Order()),
            $"case '{name}': module parameters [{string.Join(", ", parameters.Keys)}], golden [{string.Join(", ", goldenNames)}]");
        foreach (var w in weights) parameters[w.GetProperty("name").GetString()!].CopyFrom(ReadFloat(w));

        var buffers = subject.Module?.NamedBuffers().ToDictionary(b => b.Name, b => b.Value) ?? new Dictionary<string, Tensor>();
        var goldenBuffers = c.GetProperty("buffers").EnumerateArray().ToArray();
        Assert.True(buffers.Keys.Order().SequenceEqual(goldenBuffers.Select(b => b.GetProperty("name").GetString()!).Order()),
            $"case '{name}': module buffers [{string.Join(", ", buffers.Keys)}] differ from the golden ones");
        foreach (var b in goldenBuffers) buffers[b.GetProperty("name").GetString()!].CopyFrom(ReadInput(b));

        var inputs = c.GetProperty("inputs").EnumerateArray().Select(ReadInput).ToArray();
        var mode = c.GetProperty("mode").GetString() switch
        {
            "train" => Mode.Train(new Generator(0)),
            "eval" => Mode.Eval,
            var m => throw new InvalidDataException($"unknown mode '{m}'"),
        };

        var y = subject.Run(inputs, mode);
        Compare(y, c.GetProperty("output"), "output", failures);

        var grads = (y * ReadFloat(c.GetProperty("cotangent"))).Sum().Backward();
        var inputGrads = c.GetProperty("input_grads").EnumerateArray().ToArray();
        for (int i = 0; i < inputs.Length; i++)
            if (inputGrads[i].ValueKind != JsonValueKind.Null)
                Compare(grads.Of(inputs[i]), inputGrads[i], $"gradient of input {i}", failures);
        foreach (var g in c.GetProperty("weight_grads").EnumerateArray())
        {
            var pname = g.GetProperty("name").GetString()!;
            Compare(grads.Of(parameters[pname]), g, $"gradient of {pname}", failures);
        }
        foreach (var b in c.GetProperty("buffers_after").EnumerateArray())
        {
            var bname = b.GetProperty("name").GetString()!;
            Compare(buffers[bname], b, $"buffer {bname} after the pass", failures);
        }
        Assert.True(failures.Length == 0, $"case '{name}' ({kind}, {c.GetProperty("mode").GetString()}) differs from PyTorch:\n{failures}");
    }

    [Fact]
    public void Every_kind_in_the_table_has_a_golden_case()
    {
        var covered = Cases.Value.Select(c => c.GetProperty("kind").GetString()!).ToHashSet();
        var missing = Kinds.Keys.Where(k => !covered.Contains(k)).Order().ToArray();
        Assert.True(missing.Length == 0, $"layers.json has no case for: {string.Join(", ", missing)} (re-run scripts/golden/make_layer_golden.py)");
    }

    [Fact]
    public void Every_golden_case_has_a_kind_in_the_table()
    {
        var unknown = Cases.Value.Select(c => c.GetProperty("kind").GetString()!).Where(k => !Kinds.ContainsKey(k)).Distinct().ToArray();
        Assert.True(unknown.Length == 0, $"layers.json uses kinds missing from the LayerGoldenTests table: {string.Join(", ", unknown)}");
    }

    [Fact]
    public void Golden_case_names_are_unique()
    {
        var names = Cases.Value.Select(c => c.GetProperty("name").GetString()!).ToArray();
        Assert.Equal(names.Length, names.Distinct().Count());
    }

    private static Reduction Red(JsonElement p) => Param(p, "reduction").GetString() switch
    {
        "mean" => Reduction.Mean,
        "sum" => Reduction.Sum,
        "none" => Reduction.None,
        var r => throw new InvalidDataException($"unknown reduction '{r}'"),
    };
}
