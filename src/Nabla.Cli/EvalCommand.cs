using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Nabla.Data;
using Nabla.Models;
using Nabla.Nn;
using Nabla.Serialization;
using Nabla.Training;
using Spectre.Console;

namespace Nabla.Cli;

internal static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "model.safetensors or checkpoint.safetensors written by `nabla train`", Required = true };
        var data = new Option<ImageDataset>("--data") { Description = "data set: fashion-mnist or mnist", Required = true, CustomParser = r => TrainCommand.ParseDataset(r.Tokens[0].Value, r) };
        var dataDir = new Option<string?>("--data-dir") { Description = "folder holding the IDX files" };
        var json = new Option<bool>("--json") { Description = "print {\"test_accuracy\": …, \"n\": …} only" };
        var threads = Cli.Positive("--threads", "threads for the kernels", Environment.ProcessorCount);
        var command = new Command("eval", "Evaluate a trained model on the test split") { checkpoint, data, dataDir, json, threads };
        command.SetAction(r => Run(r.GetValue(checkpoint)!, r.GetValue(data), r.GetValue(dataDir), r.GetValue(json), r.GetValue(threads)));
        return command;
    }

    /// <summary>Rebuilds the model a file describes (its metadata names the architecture) and loads its weights.</summary>
    internal static Module LoadModel(string path)
    {
        var (tensors, metadata) = TensorFile.Load(path);
        if (!metadata.TryGetValue("model", out var name) || !Enum.TryParse<ModelKind>(name, ignoreCase: true, out var kind))
            throw new InvalidDataException($"{path}: metadata does not name a known model (expected \"model\": \"mlp\" or \"cnn\")");
        const string prefix = "model.";
        bool isCheckpoint = metadata.TryGetValue("format", out var f) && f == "nabla-checkpoint-1";
        var state = isCheckpoint
            ? tensors.Where(t => t.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(t => t.Key[prefix.Length..], t => t.Value)
            : tensors;
        var model = Presets.Create(kind, new Generator(0));
        model.LoadStateDict(state, path);
        return model;
    }

    private static int Run(string checkpoint, ImageDataset dataset, string? dataDir, bool json, int threads)
    {
        if (!File.Exists(checkpoint)) throw new FileNotFoundException($"checkpoint '{checkpoint}' does not exist");
        var model = LoadModel(checkpoint);
        var device = Device.CpuWithThreads(threads);
        var data = Mnist.Load(dataset, dataDir);
        var test = new TensorDataset(data.Test.X.ToDevice(device), data.Test.Y.ToDevice(device));
        var result = Trainer.Evaluate(model, test, Loss.CrossEntropyLoss, classes: 10);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { test_accuracy = result.Accuracy, n = result.Count }));
            return 0;
        }
        AnsiConsole.MarkupLine($"test accuracy [bold]{result.Accuracy:P2}[/] on {result.Count:N0} images (loss {result.Loss:F4})");
        var table = new Table().AddColumn("true \\ predicted");
        foreach (var c in data.ClassNames) table.AddColumn(Cli.Escape(c));
        for (int i = 0; i < data.ClassNames.Length; i++)
            table.AddRow([Cli.Escape(data.ClassNames[i]), .. Enumerable.Range(0, data.ClassNames.Length).Select(j => result.Confusion[i, j].ToString(CultureInfo.InvariantCulture))]);
        AnsiConsole.Write(table);
        return 0;
    }
}
