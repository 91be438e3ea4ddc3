using System.Globalization;
using System.Text.Json;
using Nabla.Nn;
using Nabla.Optim;
using Nabla.Serialization;

namespace Nabla.Training;

/// <summary>What a checkpoint says about the run it belongs to.</summary>
public sealed record CheckpointInfo(int Epoch, IReadOnlyList<EpochRecord> History, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// Everything needed to continue a run exactly: model parameters and buffers ("model.*"), optimizer state
/// ("optimizer.*"), the random generator's state, the finished epoch count and the history. One safetensors file,
/// written atomically, so a crash while saving leaves the previous checkpoint intact.
/// </summary>
public static class TrainingCheckpoint
{
    private const string ModelPrefix = "model.", OptimizerPrefix = "optimizer.";

    public static void Save(string path, Module model, Optimizer optimizer, Generator random, int epoch, IReadOnlyList<EpochRecord> history, IReadOnlyDictionary<string, string>? extra = null)
    {
        var tensors = model.StateDict().Select(p => (ModelPrefix + p.Name, p.Value))
            .Concat(optimizer.StateDict().Select(p => (OptimizerPrefix + p.Key, p.Value)));
        var metadata = new Dictionary<string, string>(extra ?? new Dictionary<string, string>())
        {
            ["format"] = "nabla-checkpoint-1",
            ["epoch"] = epoch.ToString(CultureInfo.InvariantCulture),
            ["generator_state"] = string.Join(",", random.State.Select(s => s.ToString("x16", CultureInfo.InvariantCulture))),
            ["learning_rate"] = optimizer.LearningRate.ToString("R", CultureInfo.InvariantCulture),
            ["history"] = JsonSerializer.Serialize(history),
        };
        TensorFile.Save(path, tensors, metadata);
    }

    /// <summary>Restores model, optimizer and generator in place; fails with a message naming the file when it does not fit.</summary>
    public static CheckpointInfo Load(string path, Module model, Optimizer optimizer, Generator random)
    {
        var (tensors, metadata) = TensorFile.Load(path);
        if (!metadata.TryGetValue("format", out var format) || format != "nabla-checkpoint-1")
            throw new InvalidDataException($"{path}: not a Nabla training checkpoint (metadata 'format' is {format ?? "missing"})");
        string Get(string key) => metadata.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"{path}: checkpoint metadata lacks '{key}'");
        model.LoadStateDict(tensors.Where(t => t.Key.StartsWith(ModelPrefix, StringComparison.Ordinal)).ToDictionary(t => t.Key[ModelPrefix.Length..], t => t.Value), path);
        optimizer.LoadStateDict(tensors.Where(t => t.Key.StartsWith(OptimizerPrefix, StringComparison.Ordinal)).ToDictionary(t => t.Key[OptimizerPrefix.Length..], t => t.Value));
        optimizer.LearningRate = double.Parse(Get("learning_rate"), CultureInfo.InvariantCulture);
        try
        {
            random.State = Get("generator_state").Split(',').Select(s => ulong.Parse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
            var history = JsonSerializer.Deserialize<List<EpochRecord>>(Get("history")) ?? [];
            return new CheckpointInfo(int.Parse(Get("epoch"), CultureInfo.InvariantCulture), history, metadata);
        }
        catch (Exception e) when (e is FormatException or JsonException or ArgumentException)
        {
            throw new InvalidDataException($"{path}: checkpoint metadata is corrupt ({e.Message})", e);
        }
    }
}
