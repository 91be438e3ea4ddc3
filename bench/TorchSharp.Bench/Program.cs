using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Nabla.Bench;
using Nabla.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace TorchSharpBench;

/// <summary>
/// TorchSharp's side of the comparison: the workloads of Nabla.Bench and torch_bench.py (same ids, shapes, batch
/// counts, hyper-parameters and timing rule), on libtorch 2.10 for the CPU.
/// </summary>
/// <remarks>
/// <code>dotnet TorchSharp.Bench.dll [--quick] [--threads T] [--json out.json] [--only gemm,train_mlp,train_cnn,infer,tiny]</code>
/// bench/run.sh starts it once per section, so each training run's peak RSS is its own. Every call or batch runs in a
/// dispose scope (<c>torch.NewDisposeScope</c>), the idiomatic way to free libtorch's memory at once rather than at
/// the next garbage collection.
/// </remarks>
internal static class Program
{
    private const int Batch = 64;
    private static readonly string[] AllSections = ["gemm", "train_mlp", "train_cnn", "infer", "tiny"];
    private static readonly int[] GemmSquare = [256, 512, 1024, 2048];

    private static readonly (string Id, int M, int N, int K, bool TransA, bool TransB)[] GemmMlp =
    [
        ("mlp_nn", 128, 256, 784, false, false),
        ("mlp_nt", 128, 784, 256, false, true),
        ("mlp_tn", 784, 256, 128, true, false),
    ];

    private static int Main(string[] args)
    {
        bool quick = false;
        int threads = 2;
        string? json = null;
        string[] sections = AllSections;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--quick": quick = true; break;
                case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--json": json = Next(); break;
                case "--only": sections = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                default:
                    Console.Error.WriteLine($"unknown argument {args[i]}\nusage: TorchSharp.Bench [--quick] [--threads T] [--json out.json] [--only {string.Join(',', AllSections)}]");
                    return 2;
            }
        }
        foreach (var s in sections)
            if (!AllSections.Contains(s)) throw new ArgumentException($"unknown section '{s}'; known: {string.Join(", ", AllSections)}");

        // One intra-op pool of `threads` threads, and no inter-op parallelism to compete with it.
        torch.set_num_threads(threads);
        torch.set_num_interop_threads(1);
        var results = new JsonObject();
        foreach (var section in sections)
        {
            Console.Error.WriteLine($"[torchsharp] {section}: {threads} threads");
            var records = section switch
            {
                "gemm" => Gemm(quick, threads),
                "train_mlp" => Train(quick, threads, cnn: false),
                "train_cnn" => Train(quick, threads, cnn: true),
                "infer" => Infer(quick, threads),
                _ => Tiny(quick),
            };
            foreach (var r in records)
            {
                results[r["id"]!.GetValue<string>()] = r;
                Console.Error.WriteLine($"  {r["id"],-24} {r["median_s"]!.GetValue<double>() * 1e6:F3} µs");
            }
        }
        var doc = new JsonObject
        {
            ["side"] = "torchsharp",
            ["torchsharp"] = typeof(torch).Assembly.GetName().Version?.ToString(3),
            ["libtorch"] = "2.10.0 (libtorch-cpu-linux-x64)",
            ["runtime"] = RuntimeInformation.FrameworkDescription,
            ["threads"] = threads,
            ["quick"] = quick,
            ["results"] = results,
        };
        string text = doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        if (json is not null) File.WriteAllText(json, text + "\n");
        Console.Out.WriteLine(text);
        return 0;
    }

    private static JsonObject Record(string id, Timing t, string variant, params (string Key, double Value)[] extra)
    {
        var r = new JsonObject { ["id"] = id, ["median_s"] = t.MedianSeconds, ["min_s"] = t.MinSeconds, ["reps"] = t.Reps, ["inner"] = t.Inner, ["variant"] = variant };
        foreach (var (key, value) in extra) r[key] = value;
        return r;
    }

    // ------------------------------------------------------------------------------------------------- SGEMM

    private static List<JsonObject> Gemm(bool quick, int threads)
    {
        torch.manual_seed(0);
        var output = new List<JsonObject>();
        var shapes = GemmSquare.Select(s => ($"sq{s}", s, s, s, false, false)).Concat(GemmMlp);
        foreach (var (id, m, n, k, ta, tb) in shapes)
        {
            // Stored layouts as on the other sides; the transposes are views, so libtorch gets the transpose flags.
            using var aStored = ta ? randn(k, m) : randn(m, k);
            using var bStored = tb ? randn(n, k) : randn(k, n);
            using var a = ta ? aStored.t() : aStored.alias();
            using var b = tb ? bStored.t() : bStored.alias();
            using var c = empty(m, n);
            double flops = 2.0 * m * n * k;
            // C = 0·C + A·B: addmm with beta 0 ignores C's old contents, i.e. mm into an existing output.
            void Kernel() => c.addmm_(a, b, beta: 0, alpha: 1);
            Kernel();
            double error;
            using (var reference = a.to(ScalarType.Float64).mm(b.to(ScalarType.Float64)))
            using (var diff = c.to(ScalarType.Float64) - reference)
                error = diff.abs().max().item<double>() / reference.abs().max().item<double>();
            var kernel = Measure.Run(Kernel, quick);
            var tensor = Measure.Run(() =>
            {
                using var scope = NewDisposeScope();
                a.mm(b);
            }, quick);
            string variant = $"torch.set_num_threads({threads})";
            output.Add(Record($"gemm_{id}_kernel", kernel, variant, ("gflops", flops / kernel.MedianSeconds / 1e9), ("max_rel_err", error)));
            output.Add(Record($"gemm_{id}_tensor", tensor, variant, ("gflops", flops / tensor.MedianSeconds / 1e9), ("max_rel_err", error)));
        }
        return output;
    }

    // ------------------------------------------------------------------------------------------------ training

    /// <summary>Fashion-MNIST as Nabla reads it (scaled, standardized with the training set's moments), copied into libtorch tensors.</summary>
    private static ((Tensor X, Tensor Y) Train, (Tensor X, Tensor Y) Test) LoadData()
    {
        var data = Mnist.Load(ImageDataset.FashionMnist);
        static (Tensor, Tensor) Copy(Nabla.Tensor x, Nabla.Tensor y) =>
            (tensor(x.ToArray<float>(), x.Shape.Select(d => (long)d).ToArray()), tensor(y.ToArray<long>(), y.Shape.Select(d => (long)d).ToArray()));
        return (Copy(data.Train.X, data.Train.Y), Copy(data.Test.X, data.Test.Y));
    }

    private static Sequential Model(bool cnn) => cnn
        ? nn.Sequential(("conv1", nn.Conv2d(1, 32, 5, padding: 2)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
                        ("conv2", nn.Conv2d(32, 64, 5, padding: 2)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
                        ("flatten", nn.Flatten()), ("fc1", nn.Linear(7 * 7 * 64, 128)), ("relu3", nn.ReLU()), ("fc2", nn.Linear(128, 10)))
        : nn.Sequential(("flatten", nn.Flatten()), ("fc1", nn.Linear(784, 256)), ("relu1", nn.ReLU()),
                        ("fc2", nn.Linear(256, 128)), ("relu2", nn.ReLU()), ("fc3", nn.Linear(128, 10)));

    private static List<JsonObject> Train(bool quick, int threads, bool cnn)
    {
        torch.manual_seed(0);
        var ((x, y), _) = LoadData();
        long rssAfterLoad = Measure.CurrentRssKib();
        var model = Model(cnn);
        model.train();
        optim.Optimizer optimizer = cnn ? optim.Adam(model.parameters(), lr: 1e-3) : optim.SGD(model.parameters(), 0.05, momentum: 0.9);
        int count = (int)x.shape[0];
        int full = (count + Batch - 1) / Batch;
        int warm = cnn ? 5 : 20;
        int timed = !cnn || !quick ? full : 200;
        TrainBatches(model, optimizer, x.narrow(0, 0, warm * Batch), y.narrow(0, 0, warm * Batch), warm);
        var xs = timed == full ? x : x.narrow(0, 0, timed * Batch);
        var ys = timed == full ? y : y.narrow(0, 0, timed * Batch);
        string id = cnn ? "train_cnn" : "train_mlp";
        var output = new List<JsonObject>();
        foreach (int epoch in new[] { 1, 2 })
        {
            var (times, meanLoss) = TrainBatches(model, optimizer, xs, ys, timed);
            double total = times.Sum();
            int samples = (int)Math.Min((long)timed * Batch, xs.shape[0]);
            output.Add(new JsonObject
            {
                ["id"] = epoch == 1 ? id : $"{id}_epoch2",
                ["epoch"] = epoch,
                ["median_s"] = Measure.Median(times),
                ["min_s"] = times.Min(),
                ["total_s"] = total,
                ["batches"] = times.Count,
                ["samples"] = samples,
                ["samples_per_s"] = samples / total,
                ["mean_loss"] = meanLoss,
                ["peak_rss_kib"] = Measure.PeakRssKib(),
                ["rss_after_load_kib"] = rssAfterLoad,
                ["rss_after_epoch_kib"] = Measure.CurrentRssKib(),
                ["variant"] = $"torch.set_num_threads({threads}), a dispose scope per batch",
            });
        }
        return output;
    }

    /// <summary>torch_bench.py's loop: shuffled disjoint batches, forward, loss, loss.item(), backward, step, each batch timed.</summary>
    private static (List<double> Times, double MeanLoss) TrainBatches(Sequential model, optim.Optimizer optimizer, Tensor x, Tensor y, int batches)
    {
        long n = x.shape[0];
        using var perm = randperm(n);
        var times = new List<double>(batches);
        double total = 0;
        long seen = 0;
        long clock = Stopwatch.GetTimestamp();
        for (int b = 0; b < batches; b++)
        {
            using var scope = NewDisposeScope();
            long start = (long)b * Batch, length = Math.Min(Batch, n - start);
            var idx = perm.narrow(0, start, length);
            var xb = x.index_select(0, idx);
            var yb = y.index_select(0, idx);
            var loss = F.cross_entropy(model.forward(xb), yb);
            double value = loss.item<float>();
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            total += value * length;
            seen += length;
            long now = Stopwatch.GetTimestamp();
            times.Add(Stopwatch.GetElapsedTime(clock, now).TotalSeconds);
            clock = now;
        }
        return (times, total / Math.Max(seen, 1));
    }

    // ----------------------------------------------------------------------------------------------- inference

    private static List<JsonObject> Infer(bool quick, int threads)
    {
        torch.manual_seed(0);
        var (_, (x, _)) = LoadData();
        var output = new List<JsonObject>();
        foreach (bool cnn in new[] { false, true })
        {
            var model = Model(cnn);
            model.eval();
            foreach (int b in new[] { 1, 256 })
            {
                using var xb = x.narrow(0, 0, b).contiguous();
                Timing t;
                using (no_grad())
                {
                    t = Measure.Run(() =>
                    {
                        using var scope = NewDisposeScope();
                        model.forward(xb);
                    }, quick);
                }
                output.Add(Record($"infer_{(cnn ? "cnn" : "mlp")}_b{b}", t, $"torch.no_grad(), torch.set_num_threads({threads})", ("per_image_s", t.MedianSeconds / b)));
            }
        }
        return output;
    }

    // ------------------------------------------------------------------------------------------------ tiny op

    private static List<JsonObject> Tiny(bool quick)
    {
        var output = new List<JsonObject>();
        foreach (bool grad in new[] { false, true })
        {
            using var a = tensor(new[] { 1f, 2f, 3f, 4f }, requires_grad: grad);
            using var b = tensor(new[] { 0.5f, 0.25f, 0.125f, 0.0625f }, requires_grad: grad);
            // The result is disposed at once (the cheapest way TorchSharp offers to free it).
            var t = Measure.Run(() =>
            {
                using var sum = a + b;
            }, quick, minRepSeconds: quick ? 0.02 : 0.1);
            output.Add(Record($"tiny_add_{(grad ? "grad" : "nograd")}", t, $"requires_grad={grad}, result disposed"));
        }
        return output;
    }
}
