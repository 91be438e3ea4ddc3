using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Nabla.Bench;

/// <summary>
/// Nabla's side of the PyTorch comparison (bench/torch_bench.py is the other side; bench/run.sh runs both).
/// </summary>
/// <remarks>
/// <code>dotnet bench/Nabla.Bench/bin/Release/net10.0/Nabla.Bench.dll [--quick] [--threads T] [--json out.json] [--only gemm,train_mlp,...]</code>
/// Every section runs in a child process of its own (this program started again with <c>--child</c>), so that each
/// training run's peak RSS (VmHWM) is its own and one section's garbage or JIT state cannot slow the next.
/// <c>--in-process</c> runs the sections in this process instead (for a profiler).
/// </remarks>
internal static class Program
{
    private static readonly string[] AllSections = ["gemm", "train_mlp", "train_cnn", "infer", "tiny"];

    private static int Main(string[] args)
    {
        var o = Options.Parse(args);
        if (o is null) return 2;
        if (o.Child is { } child)
        {
            var results = Workloads.Run(child, o);
            Console.Out.Write(results.ToJsonString());
            return 0;
        }

        var merged = new JsonObject();
        foreach (var section in o.Sections)
        {
            var results = o.InProcess ? Workloads.Run(section, o) : RunChild(section, o);
            foreach (var r in results)
            {
                var obj = r!.AsObject();
                string id = obj["id"]!.GetValue<string>();
                merged[id] = obj.DeepClone();
                Console.Error.WriteLine($"  {id,-24} {Describe(obj)}");
            }
        }
        var doc = new JsonObject
        {
            ["side"] = "nabla",
            ["runtime"] = RuntimeInformation.FrameworkDescription,
            ["os"] = RuntimeInformation.OSDescription,
            ["processors"] = Environment.ProcessorCount,
            ["vector512"] = Vector512.IsHardwareAccelerated,
            ["threads"] = o.Threads,
            ["quick"] = o.Quick,
            ["results"] = merged,
        };
        string text = doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        if (o.Json is { } path) File.WriteAllText(path, text + "\n");
        Console.Out.WriteLine(text);
        return 0;
    }

    private static string Describe(JsonObject r)
    {
        double median = r["median_s"]!.GetValue<double>();
        string time = median >= 1e-3 ? $"{median * 1e3:F3} ms" : $"{median * 1e6:F3} µs";
        if (r["gflops"] is { } gf) time += $"  {gf.GetValue<double>():F1} GFLOP/s";
        if (r["peak_rss_kib"] is { } rss) time += $"  peak RSS {rss.GetValue<long>() / 1024.0:F0} MiB";
        return time;
    }

    private static JsonArray RunChild(string section, Options o)
    {
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find this program's path");
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        // Started as `dotnet Nabla.Bench.dll`: the host needs the assembly again.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(Program).Assembly.Location);
        foreach (var a in new[] { "--child", section, "--threads", o.Threads.ToString(CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
        if (o.Quick) psi.ArgumentList.Add("--quick");
        Console.Error.WriteLine($"[nabla] {section}: {o.Threads} threads");
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {self}");
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"section {section} failed with exit code {p.ExitCode}");
        return JsonNode.Parse(stdout)!.AsArray();
    }

    internal sealed record Options(bool Quick, int Threads, string? Json, string[] Sections, string? Child, bool InProcess)
    {
        public static Options? Parse(string[] args)
        {
            bool quick = false, inProcess = false;
            int threads = 2;
            string? json = null, child = null;
            string[] sections = AllSections;
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--quick": quick = true; break;
                    case "--in-process": inProcess = true; break;
                    case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--json": json = Next(); break;
                    case "--only": sections = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                    case "--child": child = Next(); break;
                    default:
                        Console.Error.WriteLine($"unknown argument {args[i]}\nusage: Nabla.Bench [--quick] [--threads T] [--json out.json] [--only {string.Join(',', AllSections)}] [--in-process]");
                        return null;
                }
            }
            if (threads < 1) throw new ArgumentException("--threads must be positive");
            foreach (var s in sections.Append(child).OfType<string>())
                if (!AllSections.Contains(s)) throw new ArgumentException($"unknown section '{s}'; known: {string.Join(", ", AllSections)}");
            return new Options(quick, threads, json, sections, child, inProcess);
        }
    }
}
