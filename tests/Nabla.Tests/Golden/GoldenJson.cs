using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Nabla.Tests.Golden;

/// <summary>
/// Reading the PyTorch golden files (scripts/golden/*.py) and comparing against them, shared by the op, network and
/// layer golden tests: tensors are {"shape", "data"[, "dtype", "requires_grad"]}, compared within
/// |Δ| ≤ <see cref="Atol"/> + <see cref="Rtol"/>·|expected|.
/// </summary>
internal static class GoldenJson
{
    // Tolerance. Inputs are float32 values; the references were computed from them in float64, so they are the exact
    // answers to about 1e-16. Nabla computes in float32 (unit roundoff 2^-24 ≈ 6e-8). The small cases here chain a
    // handful of ops over at most a few dozen terms, so an error of a few hundred ulps (rtol 1e-4) is ample for
    // honest float32 arithmetic while still catching any wrong formula or convention (those are off by O(1)).
    // The absolute term (1e-5) covers results that should be ~0 but come out of cancellation (e.g. a sum of
    // gradient contributions that cancel, sin near a root), whose float32 error scales with the operands, not the result.
    public const double Atol = 1e-5;
    public const double Rtol = 1e-4;

    // reading

    public static int[] Shape(JsonElement e) => e.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32()).ToArray();

    /// <summary>A float32 tensor from {"shape", "data"}; the numbers are float32 values written in decimal.</summary>
    public static Tensor ReadFloat(JsonElement e) =>
        Tensor.FromArray(e.GetProperty("data").EnumerateArray().Select(v => (float)v.GetDouble()).ToArray()).Reshape(Shape(e));

    public static Tensor ReadInput(JsonElement e)
    {
        var shape = Shape(e);
        var data = e.GetProperty("data");
        var dtype = e.TryGetProperty("dtype", out var d) ? d.GetString() : "float32";
        var t = dtype switch
        {
            "float32" => ReadFloat(e),
            "int64" => Tensor.FromArray(data.EnumerateArray().Select(v => v.GetInt64()).ToArray()).Reshape(shape),
            "bool" => Tensor.FromArray(data.EnumerateArray().Select(v => v.GetInt64() != 0).ToArray()).Reshape(shape),
            _ => throw new InvalidDataException($"unknown dtype '{dtype}' in golden data"),
        };
        return e.TryGetProperty("requires_grad", out var rg) && rg.GetBoolean() ? t.RequireGrad() : t;
    }

    public static JsonElement Param(JsonElement p, string key) =>
        p.TryGetProperty(key, out var v) ? v : throw new InvalidDataException($"golden case lacks parameter '{key}'");

    public static int Int(JsonElement p, string key) => Param(p, key).GetInt32();

    public static double Dbl(JsonElement p, string key) => Param(p, key).GetDouble();

    public static double? NullableDbl(JsonElement p, string key) =>
        Param(p, key) is { ValueKind: JsonValueKind.Null } ? null : Param(p, key).GetDouble();

    public static bool Bool(JsonElement p, string key) => Param(p, key).GetBoolean();

    public static int[] Ints(JsonElement p, string key) => Param(p, key).EnumerateArray().Select(v => v.GetInt32()).ToArray();

    /// <summary>The "axes" parameter: a list, or null for all axes.</summary>
    public static int[]? Axes(JsonElement p) => Param(p, "axes").ValueKind == JsonValueKind.Null ? null : Ints(p, "axes");

    // comparison

    public static void Compare(Tensor actual, JsonElement expected, string what, StringBuilder failures)
    {
        var shape = Shape(expected);
        if (!actual.Shape.SequenceEqual(shape))
        {
            failures.AppendLine(CultureInfo.InvariantCulture,
                $"  {what}: shape [{string.Join(", ", actual.Shape)}], PyTorch [{string.Join(", ", shape)}]");
            return;
        }
        var want = expected.GetProperty("data").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        CompareValues(actual.ToArray<double>(), want, what, failures);
    }

    public static void CompareValues(double[] got, double[] want, string what, StringBuilder failures)
    {
        if (got.Length != want.Length)
        {
            failures.AppendLine(CultureInfo.InvariantCulture, $"  {what}: {got.Length} elements, PyTorch {want.Length}");
            return;
        }
        int bad = 0;
        double worst = 0;
        var details = new StringBuilder();
        for (int i = 0; i < got.Length; i++)
        {
            double err = Math.Abs(got[i] - want[i]);
            bool ok = double.IsNaN(want[i]) ? double.IsNaN(got[i]) : err <= Atol + Rtol * Math.Abs(want[i]);
            if (ok) continue;
            if (++bad <= 8)
                details.AppendLine(CultureInfo.InvariantCulture, $"    [{i}] Nabla {got[i]:R}, PyTorch {want[i]:R} (|Δ| = {err:G3})");
            worst = Math.Max(worst, double.IsNaN(err) ? double.PositiveInfinity : err);
        }
        if (bad == 0) return;
        failures.AppendLine(CultureInfo.InvariantCulture, $"  {what}: {bad} of {got.Length} elements out of tolerance (worst |Δ| = {worst:G3})");
        failures.Append(details);
    }
}
