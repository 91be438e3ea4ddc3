using System.Diagnostics;
using System.Text.Json;

namespace Nabla.Tests.Cli;

/// <summary>Runs the real `nabla` program (built next to the tests) and checks what a user sees.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nabla-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Nabla(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Nabla.Cli.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["NO_COLOR"] = "1";
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static void AssertOneLineError((int Code, string Out, string Err) r, params string[] fragments)
    {
        Assert.NotEqual(0, r.Code);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one error line, got:\n{r.Err}");
        Assert.DoesNotContain("   at ", r.Err); // no stack trace
        foreach (var f in fragments) Assert.Contains(f, r.Err, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Unknown_model_is_a_one_line_error() =>
        AssertOneLineError(Nabla("train", "--data", "fashion-mnist", "--model", "resnet"), "resnet");

    [Fact]
    public void Unknown_optimizer_is_a_one_line_error() =>
        AssertOneLineError(Nabla("train", "--data", "fashion-mnist", "--model", "mlp", "--optimizer", "lbfgs"), "lbfgs");

    [Fact]
    public void Unknown_data_set_is_a_one_line_error() =>
        AssertOneLineError(Nabla("train", "--data", "cifar", "--model", "mlp"), "unknown data set 'cifar'");

    [Theory]
    [InlineData("--epochs", "0")]
    [InlineData("--batch-size", "-3")]
    [InlineData("--threads", "0")]
    public void Non_positive_sizes_are_one_line_errors(string option, string value) =>
        AssertOneLineError(Nabla("train", "--data", "fashion-mnist", "--model", "mlp", option, value), option, "positive");

    [Fact]
    public void A_missing_data_set_says_how_to_get_it()
    {
        var empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        var r = Nabla("train", "--data", "fashion-mnist", "--model", "mlp", "--data-dir", empty, "--out", Path.Combine(_dir, "run"));
        AssertOneLineError(r, "fashion-mnist not found", "apt-get install dataset-fashion-mnist", empty);
    }

    [Fact]
    public void An_unwritable_output_folder_is_a_one_line_error()
    {
        var file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "");
        AssertOneLineError(Nabla("train", "--data", "fashion-mnist", "--model", "mlp", "--out", Path.Combine(file, "run")), "cannot write to output folder");
    }

    [Fact]
    public void A_corrupt_checkpoint_is_named_in_the_error()
    {
        var bad = Path.Combine(_dir, "bad.safetensors");
        File.WriteAllBytes(bad, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        AssertOneLineError(Nabla("eval", "--checkpoint", bad, "--data", "fashion-mnist"), "bad.safetensors");
    }

    [Fact]
    public void Train_then_eval_round_trips_on_fashion_mnist()
    {
        if (!File.Exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) return; // .ci/run installs it
        var run = Path.Combine(_dir, "run");
        var train = Nabla("train", "--data", "fashion-mnist", "--model", "mlp", "--epochs", "1", "--limit", "2000", "--seed", "3", "--out", run);
        Assert.True(train.Code == 0, train.Err + train.Out);
        foreach (var f in new[] { "model.safetensors", "checkpoint.safetensors", "metrics.json", "curves.png", "confusion.png" })
            Assert.True(File.Exists(Path.Combine(run, f)), $"{f} missing");
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")));
        var root = metrics.RootElement;
        Assert.Equal("mlp", root.GetProperty("model").GetString());
        Assert.Equal("fashion-mnist", root.GetProperty("dataset").GetString());
        Assert.Equal(3, root.GetProperty("seed").GetInt32());
        double accuracy = root.GetProperty("test_accuracy").GetDouble();
        Assert.InRange(accuracy, 0.6, 1.0);
        Assert.Equal(1, root.GetProperty("history").GetArrayLength());
        Assert.InRange(root.GetProperty("first_step_seconds").GetDouble(), 0.0, 600.0);   // measured, not a speed assertion
        // The run left the multi-core JIT profile that the next one compiles ahead from (JitProfile), beside the program.
        var profile = new FileInfo(Path.Combine(AppContext.BaseDirectory, "jit-profiles", "train.jitprofile"));
        Assert.True(profile.Exists && profile.Length > 0, $"{profile.FullName} missing or empty");

        var eval = Nabla("eval", "--checkpoint", Path.Combine(run, "model.safetensors"), "--data", "fashion-mnist", "--json");
        Assert.True(eval.Code == 0, eval.Err);
        using var result = JsonDocument.Parse(eval.Out);
        Assert.Equal(10000, result.RootElement.GetProperty("n").GetInt32());
        Assert.Equal(accuracy, result.RootElement.GetProperty("test_accuracy").GetDouble(), 12);
    }
}
