using System.Diagnostics;
using System.Text.Json.Nodes;
using Nabla.Autodiff;
using Nabla.Data;
using Nabla.Kernels.Cpu;
using Nabla.Models;
using Nabla.Nn;
using Nabla.Optim;

namespace Nabla.Bench;

/// <summary>The workloads, section by section. Each returns one JSON record per measured quantity.</summary>
/// <remarks>Shapes, batch counts and hyper-parameters must match torch_bench.py.</remarks>
internal static class Workloads
{
    private const int Batch = 64;

    private static readonly int[] GemmSquare = [256, 512, 1024, 2048];

    /// <summary>The MLP's first layer at batch 128, (m, n, k) = (128, 256, 784), and its two backward products.</summary>
    private static readonly (string Id, int M, int N, int K, bool TransA, bool TransB)[] GemmMlp =
    [
        ("mlp_nn", 128, 256, 784, false, false),
        ("mlp_nt", 128, 784, 256, false, true),
        ("mlp_tn", 784, 256, 128, true, false),
    ];

    /// <summary>Keeps results alive so the JIT cannot drop a call whose value is unused.</summary>
    private static Tensor? _sink;

    public static JsonArray Run(string section, Program.Options o) => section switch
    {
        "gemm" => GemmSection(o),
        "train_mlp" => TrainSection(o, ModelKind.Mlp),
        "train_cnn" => TrainSection(o, ModelKind.Cnn),
        "infer" => InferSection(o),
        "tiny" => TinySection(o),
        _ => throw new ArgumentException($"unknown section {section}"),
    };

    private static string Variant(Program.Options o) => $"{o.Threads} threads";

    // ------------------------------------------------------------------------------------------------- SGEMM

    private static JsonArray GemmSection(Program.Options o)
    {
        var device = Device.CpuWithThreads(o.Threads);
        var output = new JsonArray();
        var shapes = GemmSquare.Select(s => ($"sq{s}", s, s, s, false, false)).Concat(GemmMlp);
        var random = new Random(0);
        foreach (var (id, m, n, k, ta, tb) in shapes)
        {
            // Stored layouts: A is m×k (k×m when transposed), B is k×n (n×k when transposed); C is m×n.
            var a = RandomArray(m * k, random);
            var b = RandomArray(k * n, random);
            var c = new float[m * n];
            int lda = ta ? m : k, ldb = tb ? k : n;
            double flops = 2.0 * m * n * k;
            void Kernel() => Gemm.Multiply(ta, tb, m, n, k, 1f, a, 0, lda, b, 0, ldb, 0f, c, 0, n, o.Threads);
            Kernel();
            double error = MaxRelativeError(a, b, c, m, n, k, ta, tb, random);

            var at = Tensor.FromArray(a, ta ? [k, m] : [m, k]).ToDevice(device);
            var bt = Tensor.FromArray(b, tb ? [n, k] : [k, n]).ToDevice(device);
            var av = ta ? at.T : at;        // views: MatMul reads them transposed in place
            var bv = tb ? bt.T : bt;
            var tensorC = av.MatMul(bv).ToArray<float>();
            double tensorError = tensorC.Zip(c, (x, y) => Math.Abs(x - y)).Max() / Math.Max(c.Max(Math.Abs), 1e-30f);

            var kernel = Measure.Run(Kernel, o.Quick);
            var gc = GcCounts();
            var tensor = Measure.Run(() => _sink = av.MatMul(bv), o.Quick);
            var tensorGc = GcCounts(gc);
            output.Add(Record($"gemm_{id}_kernel", kernel, Variant(o), ("gflops", flops / kernel.MedianSeconds / 1e9), ("max_rel_err", error)));
            output.Add(Record($"gemm_{id}_tensor", tensor, Variant(o), ("gflops", flops / tensor.MedianSeconds / 1e9), ("max_rel_err", Math.Max(error, tensorError))));
            output[^1]!["gc_collections_gen012"] = tensorGc;
        }
        return output;
    }

    private static float[] RandomArray(int length, Random random)
    {
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)(2 * random.NextDouble() - 1);
        return x;
    }

    /// <summary>Largest |C − C_ref| over 256 sampled entries, relative to the largest |C_ref| among them (reference in double).</summary>
    private static double MaxRelativeError(float[] a, float[] b, float[] c, int m, int n, int k, bool ta, bool tb, Random random)
    {
        double worst = 0, scale = 1e-30;
        for (int s = 0; s < 256; s++)
        {
            int i = random.Next(m), j = random.Next(n);
            double sum = 0;
            for (int p = 0; p < k; p++)
                sum += (double)(ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
            worst = Math.Max(worst, Math.Abs(c[i * n + j] - sum));
            scale = Math.Max(scale, Math.Abs(sum));
        }
        return worst / scale;
    }

    // ------------------------------------------------------------------------------------------------ training

    private static (TensorDataset Train, TensorDataset Test) LoadData(Device device)
    {
        var data = Mnist.Load(ImageDataset.FashionMnist);
        return (new TensorDataset(data.Train.X.ToDevice(device), data.Train.Y.ToDevice(device)),
                new TensorDataset(data.Test.X.ToDevice(device), data.Test.Y.ToDevice(device)));
    }

    private static JsonArray TrainSection(Program.Options o, ModelKind kind)
    {
        var device = Device.CpuWithThreads(o.Threads);
        var (train, _) = LoadData(device);
        long rssAfterLoad = Measure.CurrentRssKib();
        var random = new Generator(0);
        var model = Presets.Create(kind, random);
        Optimizer optimizer = kind == ModelKind.Mlp
            ? new Sgd(model.NamedParameters(), new SgdOptions(LearningRate: 0.05, Momentum: 0.9))
            : new Adam(model.NamedParameters(), new AdamOptions(LearningRate: 1e-3));

        int full = (train.Count + Batch - 1) / Batch;
        int warm = kind == ModelKind.Mlp ? 20 : 5;
        int timed = kind == ModelKind.Mlp || !o.Quick ? full : 200;

        // Warm-up: a few batches through the same loop, so that first calls (JIT compilation, first allocations) are not timed.
        TrainBatches(model, optimizer, new DataLoader(train.Take(warm * Batch), Batch, Sampling.Shuffle, generator: random), random);

        // Two epochs are timed: the first of the process (after the warm-up batches) and the second. The first also pays
        // one-time costs (JIT tier-up of the step's code, the buffer pool and the GC heap reaching their working size);
        // the second is the steady state a multi-epoch run spends most of its time in.
        var subset = timed == full ? train : train.Take(timed * Batch);
        string id = $"train_{(kind == ModelKind.Mlp ? "mlp" : "cnn")}";
        var output = new JsonArray();
        foreach (int epoch in new[] { 1, 2 })
        {
            var gc = GcCounts();
            double pause = GC.GetTotalPauseDuration().TotalMilliseconds;
            long allocated = GC.GetTotalAllocatedBytes();
            var (times, meanLoss) = TrainBatches(model, optimizer, new DataLoader(subset, Batch, Sampling.Shuffle, generator: random), random);
            double total = times.Sum();
            int samples = subset.Count;
            output.Add(new JsonObject
            {
                ["id"] = epoch == 1 ? id : $"{id}_epoch2",
                ["epoch"] = epoch,
                ["median_s"] = Measure.Median(times),
                ["min_s"] = times.Min(),
                ["p90_s"] = Measure.Quantile(times, 0.9),
                ["p99_s"] = Measure.Quantile(times, 0.99),
                ["max_s"] = times.Max(),
                ["total_s"] = total,
                ["batches"] = times.Count,
                ["samples"] = samples,
                ["samples_per_s"] = samples / total,
                ["mean_loss"] = meanLoss,
                ["peak_rss_kib"] = Measure.PeakRssKib(),
                ["rss_after_load_kib"] = rssAfterLoad,
                ["rss_after_epoch_kib"] = Measure.CurrentRssKib(),
                ["gc_collections_gen012"] = GcCounts(gc),
                ["gc_allocated_mib"] = (GC.GetTotalAllocatedBytes() - allocated) / (1024.0 * 1024.0),
                ["gc_pause_ms"] = GC.GetTotalPauseDuration().TotalMilliseconds - pause,
                ["variant"] = $"hand loop as Trainer.TrainEpoch, {Variant(o)}",
            });
        }
        return output;
    }

    /// <summary>
    /// The loop of Trainer.TrainEpoch (and of the README), timed per batch: fetch the batch, forward, cross-entropy,
    /// read the loss (Item), backward, optimizer step. Returns each batch's seconds and the mean loss.
    /// </summary>
    private static (List<double> Times, double MeanLoss) TrainBatches(Module model, Optimizer optimizer, DataLoader loader, Generator random)
    {
        var mode = Mode.Train(random);
        var times = new List<double>(loader.BatchCount);
        double total = 0;
        int samples = 0;
        long clock = Stopwatch.GetTimestamp();
        foreach (var (x, y) in loader)
        {
            var loss = Loss.CrossEntropy(model.Forward(x, mode), y);
            double value = loss.Item();
            if (!double.IsFinite(value)) throw new InvalidOperationException($"training diverged: loss {value}");
            using (var gradients = loss.Backward()) optimizer.Step(gradients);
            total += value * x.Shape[0];
            samples += x.Shape[0];
            long now = Stopwatch.GetTimestamp();
            times.Add(Stopwatch.GetElapsedTime(clock, now).TotalSeconds);
            clock = now;
        }
        return (times, samples == 0 ? double.NaN : total / samples);
    }

    // ----------------------------------------------------------------------------------------------- inference

    private static JsonArray InferSection(Program.Options o)
    {
        var device = Device.CpuWithThreads(o.Threads);
        var (_, test) = LoadData(device);
        var output = new JsonArray();
        foreach (var kind in new[] { ModelKind.Mlp, ModelKind.Cnn })
        {
            var model = Presets.Create(kind, new Generator(0));
            foreach (int b in new[] { 1, 256 })
            {
                var x = test.X.Narrow(0, 0, b).Contiguous();
                Timing t;
                long allocated;
                var gc = GcCounts();
                using (Autograd.NoGrad())
                {
                    t = Measure.Run(() => _sink = model.Forward(x), o.Quick);
                    long before = GC.GetTotalAllocatedBytes(precise: true);
                    for (int i = 0; i < 10; i++) _sink = model.Forward(x);
                    allocated = (GC.GetTotalAllocatedBytes(precise: true) - before) / 10;
                }
                output.Add(Record($"infer_{(kind == ModelKind.Mlp ? "mlp" : "cnn")}_b{b}", t, $"Autograd.NoGrad(), {Variant(o)}", ("per_image_s", t.MedianSeconds / b)));
                output[^1]!["gc_collections_gen012"] = GcCounts(gc);
                output[^1]!["managed_bytes_allocated_per_call"] = allocated;
            }
        }
        return output;
    }

    // ------------------------------------------------------------------------------------------------ tiny op

    private static JsonArray TinySection(Program.Options o)
    {
        var output = new JsonArray();
        foreach (bool grad in new[] { false, true })
        {
            var a = Tensor.FromArray([1f, 2f, 3f, 4f], 4);
            var b = Tensor.FromArray([0.5f, 0.25f, 0.125f, 0.0625f], 4);
            if (grad)
            {
                a = a.RequireGrad();
                b = b.RequireGrad();
            }
            var t = Measure.Run(() => _sink = a + b, o.Quick, minRepSeconds: o.Quick ? 0.02 : 0.1);
            output.Add(Record($"tiny_add_{(grad ? "grad" : "nograd")}", t, $"RequireGrad={grad}"));
        }
        return output;
    }

    /// <summary>Garbage collections per generation so far, or since <paramref name="since"/> (warm-up and timed calls together).</summary>
    private static JsonArray GcCounts(JsonArray? since = null)
    {
        int[] now = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
        if (since is not null) for (int g = 0; g < 3; g++) now[g] -= since[g]!.GetValue<int>();
        return new JsonArray(now[0], now[1], now[2]);
    }

    private static JsonObject Record(string id, Timing t, string variant, params (string Key, double Value)[] extra)
    {
        var r = new JsonObject
        {
            ["id"] = id,
            ["median_s"] = t.MedianSeconds,
            ["min_s"] = t.MinSeconds,
            ["reps"] = t.Reps,
            ["inner"] = t.Inner,
            ["variant"] = variant,
        };
        foreach (var (key, value) in extra) r[key] = value;
        return r;
    }
}
