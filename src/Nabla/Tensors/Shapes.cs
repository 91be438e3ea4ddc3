namespace Nabla;

/// <summary>Shape arithmetic shared by the ops: broadcasting (NumPy rules) and axis lists.</summary>
internal static class Shapes
{
    /// <summary>The broadcast shape of a and b: dimensions aligned from the right must be equal or 1.</summary>
    public static int[] Broadcast(int[] a, int[] b, string op)
    {
        if (Equal(a, b)) return a;
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"{op}: shapes {Tensor.ShapeString(a)} and {Tensor.ShapeString(b)} cannot be broadcast together (dimension {i}: {da} vs {db})");
            result[i] = da == 1 ? db : da;
        }
        return result;
    }

    /// <summary>Normalizes (negative) axes, checks range and duplicates, and sorts them. Null or empty means all axes.</summary>
    public static int[] Axes(int[]? axes, int rank, string op)
    {
        if (axes is null || axes.Length == 0) return Enumerable.Range(0, rank).ToArray();
        var result = new int[axes.Length];
        for (int i = 0; i < axes.Length; i++) result[i] = Tensor.NormalizeAxis(axes[i], rank, op);
        Array.Sort(result);
        for (int i = 1; i < result.Length; i++)
            if (result[i] == result[i - 1]) throw new ArgumentException($"{op}: dimension {result[i]} appears more than once in [{string.Join(", ", axes)}]");
        return result;
    }

    /// <summary>The shape after reducing <paramref name="axes"/>: those dimensions become 1 (keepdim) or disappear.</summary>
    public static int[] Reduced(int[] shape, int[] axes, bool keepDim)
    {
        var result = new List<int>(shape.Length);
        for (int d = 0; d < shape.Length; d++)
        {
            if (Array.IndexOf(axes, d) < 0) result.Add(shape[d]);
            else if (keepDim) result.Add(1);
        }
        return result.ToArray();
    }

    public static bool Equal(int[] a, int[] b) => ReferenceEquals(a, b) || a.AsSpan().SequenceEqual(b);
}
