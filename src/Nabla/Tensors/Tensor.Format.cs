using System.Globalization;
using System.Text;
using Nabla.Kernels;

namespace Nabla;

public sealed partial class Tensor
{
    private const int SummarizeAbove = 1000, EdgeItems = 3;

    /// <summary>Prints like PyTorch: <c>tensor([[1.0000, 2.5000], …])</c>, with dtype and gradient notes when they apply.</summary>
    public override string ToString()
    {
        var values = ToArray<double>();
        bool summarize = Count > SummarizeAbove;
        Func<double, string> format = DType switch
        {
            DType.Bool => v => v != 0 ? "True" : "False",
            DType.Int64 => v => ((long)v).ToString(CultureInfo.InvariantCulture),
            _ => FloatFormatter(values),
        };
        int width = values.Length == 0 ? 0 : values.Max(v => format(v).Length);
        var sb = new StringBuilder("tensor(");
        if (Rank == 0) sb.Append(format(values[0]));
        else if (Count == 0) sb.Append("[]"); // PyTorch prints any empty tensor as [] and adds size= for rank > 1
        else AppendDim(sb, values, 0, 0, v => format(v).PadLeft(width), summarize);
        if (Count == 0 && Rank > 1) sb.Append(", size=").Append(ShapeString(Shape).Replace('[', '(').Replace(']', ')'));
        if (DType is DType.Float64 || (DType is DType.Int64 && Count == 0) || (DType is DType.Bool && Count == 0))
            sb.Append(", dtype=").Append(DType.TorchName());
        if (Node is not null) sb.Append(", grad_fn=<").Append(Node.Name).Append("Backward>");
        else if (RequiresGrad) sb.Append(", requires_grad=True");
        return sb.Append(')').ToString();
    }

    private void AppendDim(StringBuilder sb, double[] values, int dim, int offset, Func<double, string> format, bool summarize)
    {
        int n = Shape[dim];
        int block = 1;
        for (int d = dim + 1; d < Rank; d++) block *= Shape[d];
        sb.Append('[');
        bool skip = summarize && n > 2 * EdgeItems;
        string sep = dim == Rank - 1 ? ", " : "," + new string('\n', Rank - dim - 1) + new string(' ', 7 + dim + 1);
        for (int i = 0; i < n; i++)
        {
            if (skip && i == EdgeItems)
            {
                sb.Append(dim == Rank - 1 ? " ..." : "...").Append(sep); // PyTorch's 1-D filler is " ..."
                i = n - EdgeItems;
            }
            if (dim == Rank - 1) sb.Append(format(values[offset + i]));
            else AppendDim(sb, values, dim + 1, offset + i * block, format, summarize);
            if (i < n - 1) sb.Append(sep);
        }
        sb.Append(']');
    }

    /// <summary>PyTorch's choice: integers print as "1.", wide ranges in scientific notation, otherwise four decimals.</summary>
    private static Func<double, string> FloatFormatter(double[] values)
    {
        var finite = values.Where(double.IsFinite).Select(Math.Abs).ToArray();
        string Special(double v) => double.IsNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
        if (finite.Length == 0) return v => double.IsFinite(v) ? v.ToString("0.", CultureInfo.InvariantCulture) : Special(v);
        double max = finite.Max(), min = finite.Where(v => v != 0).DefaultIfEmpty(0).Min();
        bool integers = values.Where(double.IsFinite).All(v => v == Math.Round(v));
        if (integers)
        {
            if (max > 1e8 || (min > 0 && max / min > 1000)) return v => double.IsFinite(v) ? v.ToString("0.0000e+00", CultureInfo.InvariantCulture) : Special(v);
            return v => double.IsFinite(v) ? v.ToString("0", CultureInfo.InvariantCulture) + "." : Special(v);
        }
        bool sci = max > 1e8 || (min > 0 && (min < 1e-4 || max / min > 1000));
        string pattern = sci ? "0.0000e+00" : "0.0000";
        return v => double.IsFinite(v) ? v.ToString(pattern, CultureInfo.InvariantCulture) : Special(v);
    }
}
