using System.Text.Json;
using Nabla.Kernels;
using Nabla.Optim;

namespace Nabla.Tests.Optim;

/// <summary>
/// Reads Golden/optim.json (written by scripts/golden/make_optim_golden.py) and rebuilds its problem with Nabla:
/// loss(W, b) = mean((X Wᵀ + b − Y)²) on X [6, 4], Y [6, 3], W [3, 4], b [3].
/// </summary>
internal static class OptimGolden
{
    private static readonly Lazy<JsonDocument> Document = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Golden", "optim.json"))));

    public static JsonElement Root => Document.Value.RootElement;

    public static JsonElement Problem => Root.GetProperty("problem");

    public static IEnumerable<JsonElement> Optimizers => Root.GetProperty("optimizers").EnumerateArray();

    public static IEnumerable<JsonElement> Schedulers => Root.GetProperty("schedulers").EnumerateArray();

    public static double[] Numbers(JsonElement array) => [.. array.EnumerateArray().Select(v => v.GetDouble())];

    public static Tensor Load(string key, DType dtype)
    {
        var entry = Problem.GetProperty(key);
        int[] shape = [.. entry.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32())];
        // The JSON holds float32 values as their shortest decimals: round to float32 first, so float64 runs start
        // from exactly the values PyTorch used.
        float[] values = [.. Numbers(entry.GetProperty("data")).Select(v => (float)v)];
        return Tensor.FromArray(values, shape).To(dtype);
    }

    /// <summary>Fresh trainable copies of the starting weight and bias.</summary>
    public static (Tensor Weight, Tensor Bias) Parameters(DType dtype) =>
        (Load("weight", dtype).Detach().RequireGrad(), Load("bias", dtype).Detach().RequireGrad());

    public static Tensor Loss(Tensor x, Tensor y, Tensor weight, Tensor bias) => (x.MatMul(weight.T) + bias - y).Square().Mean();

    /// <summary>The Nabla optimizer for a golden configuration: the JSON option keys are the options records' property names.</summary>
    public static Optimizer Create(string kind, JsonElement options, IEnumerable<(string Name, Tensor Value)> parameters)
    {
        double D(string key, double fallback) => options.TryGetProperty(key, out var v) ? v.GetDouble() : fallback;
        bool B(string key, bool fallback) => options.TryGetProperty(key, out var v) ? v.GetBoolean() : fallback;
        switch (kind)
        {
            case "sgd":
                return new Sgd(parameters, new SgdOptions(D("LearningRate", double.NaN), D("Momentum", 0), D("Dampening", 0), D("WeightDecay", 0), B("Nesterov", false)));
            case "adam":
                var a = new AdamOptions();
                return new Adam(parameters, new AdamOptions(D("LearningRate", a.LearningRate), D("Beta1", a.Beta1), D("Beta2", a.Beta2), D("Eps", a.Eps), D("WeightDecay", a.WeightDecay), B("AmsGrad", a.AmsGrad)));
            case "adamw":
                var w = new AdamWOptions();
                return new AdamW(parameters, new AdamWOptions(D("LearningRate", w.LearningRate), D("Beta1", w.Beta1), D("Beta2", w.Beta2), D("Eps", w.Eps), D("WeightDecay", w.WeightDecay), B("AmsGrad", w.AmsGrad)));
            case "rmsprop":
                var r = new RmsPropOptions();
                return new RmsProp(parameters, new RmsPropOptions(D("LearningRate", r.LearningRate), D("Alpha", r.Alpha), D("Eps", r.Eps), D("WeightDecay", r.WeightDecay), D("Momentum", r.Momentum), B("Centered", r.Centered)));
            default:
                throw new InvalidDataException($"optim.json: unknown optimizer '{kind}'");
        }
    }
}
