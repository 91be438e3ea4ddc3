using Nabla.Kernels;
using Nabla.Kernels.Cpu;
using Xunit;

namespace Nabla.Tests.Kernels;

/// <summary>
/// Reductions of a dense array over leading or trailing axes take a short path; over any other axes, the general plan.
/// The short paths must give the general plan's bits, and the right values.
/// </summary>
public class ReduceKernelTests
{
    public static TheoryData<int[]> AxisSets() => new([0], [0, 1], [2], [1, 2], [0, 1, 2], [1], [0, 2]);

    [Theory]
    [MemberData(nameof(AxisSets))]
    public void Short_paths_give_the_general_plans_bits_and_the_right_values(int[] axes)
    {
        int[] shape = [5, 7, 300];
        var g = new Generator(3);
        var xs = Tensor.Randn(shape, g, DType.Float64).ToArray<double>();
        var x = xs.Select(v => (float)v).ToArray();
        var layout = Layout.Contiguous(shape);
        var kept = Enumerable.Range(0, 3).Where(d => !axes.Contains(d)).ToArray();
        int outputs = kept.Aggregate(1, (n, d) => n * shape[d]);
        // Each output's inputs, by LINQ over the flat index of element (i, j, k).
        var groups = Enumerable.Range(0, xs.Length)
            .GroupBy(flat => kept.Aggregate(0, (key, d) => key * shape[d] + Index(flat, d)))
            .OrderBy(grp => grp.Key)
            .Select(grp => grp.Select(flat => (double)x[flat]).ToArray())
            .ToArray();

        foreach (var op in new[] { ReduceOp.Sum, ReduceOp.Max, ReduceOp.Min, ReduceOp.Prod })
        {
            float[] fast = new float[outputs], general = new float[outputs];
            ReduceKernels.Reduce(op, x, layout, axes, fast);
            ReduceKernels.General(op, x, layout, axes, general);
            Assert.Equal(general, fast);
            for (int o = 0; o < outputs; o++)
            {
                double expected = op switch
                {
                    ReduceOp.Sum => groups[o].Sum(),
                    ReduceOp.Max => groups[o].Max(),
                    ReduceOp.Min => groups[o].Min(),
                    _ => groups[o].Aggregate(1.0, (p, v) => p * v),
                };
                Assert.Equal(expected, fast[o], Math.Max(1e-3, Math.Abs(expected) * 1e-4));
            }
        }

        static int Index(int flat, int d) => d switch { 0 => flat / (7 * 300), 1 => flat / 300 % 7, _ => flat % 300 };
    }

    /// <summary>Sums over leading axes run down whole columns in vector registers, for every element type and ragged widths.</summary>
    [Theory]
    [InlineData(1, 3)]
    [InlineData(64, 10)]
    [InlineData(33, 77)]
    [InlineData(3, 300)]
    public void Leading_sums_give_the_general_plans_bits_for_every_element_type(int rows, int cols)
    {
        var g = new Generator(9);
        var d = Tensor.Randn([rows * cols], g, DType.Float64).ToArray<double>();
        var layout = Layout.Contiguous([rows, cols]);
        Check(d);
        Check(d.Select(v => (float)v).ToArray());
        Check(d.Select(v => (long)Math.Round(v * 1000)).ToArray());

        void Check<T>(T[] x) where T : unmanaged, System.Numerics.INumber<T>
        {
            T[] fast = new T[cols], general = new T[cols];
            ReduceKernels.Reduce(ReduceOp.Sum, x, layout, [0], fast);
            ReduceKernels.General(ReduceOp.Sum, x, layout, [0], general);
            Assert.Equal(general, fast);
            for (int j = 0; j < cols; j++)
            {
                T s = T.Zero;
                for (int r = 0; r < rows; r++) s += x[r * cols + j];
                Assert.Equal(s, fast[j]);
            }
        }
    }
}
