using System.Diagnostics;

namespace Nabla.Bench;

/// <summary>The median of repeated timings, with the same rule as torch_bench.py's <c>measure</c>.</summary>
internal readonly record struct Timing(double MedianSeconds, double MinSeconds, int Reps, int Inner);

internal static class Measure
{
    /// <summary>
    /// Warms up for a fixed time (long enough for tiered JIT to reach optimized code), picks an inner loop count so
    /// that one repetition lasts at least <paramref name="minRepSeconds"/>, then times <paramref name="reps"/>
    /// repetitions and returns the median seconds per call.
    /// </summary>
    public static Timing Run(Action fn, bool quick, double? minRepSeconds = null, int? reps = null, double? warmupSeconds = null)
    {
        double minRep = minRepSeconds ?? (quick ? 0.01 : 0.05);
        int r = reps ?? (quick ? 7 : 21);
        double warmup = warmupSeconds ?? (quick ? 0.5 : 2.0);
        long start = Stopwatch.GetTimestamp();
        int calls = 0;
        double elapsed;
        while (true)
        {
            fn();
            calls++;
            elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
            // At least 60 calls: tiered compilation promotes a method after 30 calls and a short delay.
            if (elapsed >= warmup && calls >= 60) break;
            if (elapsed >= 4 * warmup && calls >= 3) break;
        }
        double perCall = elapsed / calls;
        int inner = Math.Max(1, (int)Math.Ceiling(minRep / Math.Max(perCall, 1e-9)));
        var samples = new double[r];
        for (int i = 0; i < r; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int j = 0; j < inner; j++) fn();
            samples[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds / inner;
        }
        return new Timing(Median(samples), samples.Min(), r, inner);
    }

    /// <summary>The q-quantile by the nearest-rank rule (q in [0, 1]).</summary>
    public static double Quantile(IReadOnlyList<double> values, double q)
    {
        var s = values.Order().ToArray();
        return s.Length == 0 ? double.NaN : s[Math.Clamp((int)Math.Ceiling(q * s.Length) - 1, 0, s.Length - 1)];
    }

    public static double Median(IReadOnlyList<double> values)
    {
        var s = values.Order().ToArray();
        int n = s.Length;
        return n == 0 ? double.NaN : n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }

    /// <summary>The process's peak resident set size (VmHWM) in KiB, or −1 where /proc is missing.</summary>
    public static long PeakRssKib() => Status("VmHWM:");

    /// <summary>The process's resident set size now (VmRSS) in KiB, or −1 where /proc is missing.</summary>
    public static long CurrentRssKib() => Status("VmRSS:");

    private static long Status(string key)
    {
        const string path = "/proc/self/status";
        if (!File.Exists(path)) return -1;
        foreach (var line in File.ReadLines(path))
            if (line.StartsWith(key, StringComparison.Ordinal))
                return long.Parse(line[key.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        return -1;
    }
}
