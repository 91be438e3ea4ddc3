using System.Numerics;
using Nabla.Kernels.Cpu;
using Xunit;

namespace Nabla.Tests.Kernels;

/// <summary>
/// One-row products from a packed B (<see cref="Gemm.PackWholeB{T}"/>, batch-1 inference) against the reference GEMM:
/// whole and narrow last panels (n around the 4-vector panel and the vector widths), odd and even depths, B transposed
/// or not with offsets and padded rows, a bias or none, the ReLU, one and two threads (the split starts at 64 KB of B).
/// </summary>
public class PackedGemvTests
{
    public static TheoryData<int, int, bool, int> Cases()
    {
        var data = new TheoryData<int, int, bool, int>();
        foreach (var (n, k) in new[] { (1, 1), (10, 128), (17, 3), (16, 2), (33, 5), (64, 2), (65, 784), (128, 256), (203, 700), (256, 784), (40, 1) })
            foreach (bool transB in new[] { true, false })
                foreach (int threads in new[] { 1, 2 })
                    data.Add(n, k, transB, threads);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_reference(int n, int k, bool transB, int threads)
    {
        foreach (bool relu in new[] { false, true })
            foreach (bool bias in new[] { true, false })
            {
                Check<float>(n, k, transB, threads, relu, bias);
                Check<double>(n, k, transB, threads, relu, bias);
            }
    }

    /// <summary>
    /// Each column's bits are x · that column in one fixed order, whatever panel (whole or narrow), thread or memory it
    /// comes from: column j of a 203-wide B against B's column j alone (a one-column, narrow panel), one and two threads.
    /// </summary>
    [Theory]
    [InlineData(203, 700)]
    [InlineData(256, 784)]
    [InlineData(70, 33)]
    public void A_columns_bits_do_not_depend_on_its_panel_or_thread(int n, int k)
    {
        Columns<float>(n, k);
        Columns<double>(n, k);
    }

    [Fact]
    public void Operands_too_small_for_the_shape_are_rejected()
    {
        var packed = Gemm.PackWholeB(true, 10, 20, new float[200], 0, 20, 1)!;
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(packed, 1f, new float[19], 0, null, 0, new float[10], 0, 1, relu: false));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(packed, 1f, new float[20], 0, new float[9], 0, new float[10], 0, 1, relu: false));
        Assert.Throws<ArgumentException>(() => Gemm.PackWholeB(true, 10, 20, new float[199], 0, 20, 1));
    }

    private static void Columns<T>(int n, int k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(n * 31 + k);
        T[] x = GemmTests.Random<T>(rng, k), b = GemmTests.Random<T>(rng, n * k), bias = GemmTests.Random<T>(rng, n);
        T[] all = new T[n];
        Gemm.Multiply(Gemm.PackWholeB(true, n, k, b, 0, k, 2)!, T.One, x, 0, bias, 0, all, 0, 2, relu: false);
        foreach (int threads in new[] { 1, 2 })
        {
            T[] again = new T[n];
            Gemm.Multiply(Gemm.PackWholeB(true, n, k, b, 0, k, threads)!, T.One, x, 0, bias, 0, again, 0, threads, relu: false);
            Assert.True(all.AsSpan().SequenceEqual(again), $"{typeof(T).Name} 1×{n}×{k}: {threads} threads give other bits");
        }
        for (int j = 0; j < n; j += 7)
        {
            T[] one = new T[1];
            Gemm.Multiply(Gemm.PackWholeB(true, 1, k, b, j * k, k, 1)!, T.One, x, 0, bias, j, one, 0, 1, relu: false);
            Assert.True(one[0] == all[j], $"{typeof(T).Name} 1×{n}×{k}: column {j} alone is {one[0]}, in its panel {all[j]}");
        }
    }

    /// <summary>
    /// c = alpha·x·op(B) + bias (ReLU), against the reference GEMM on the bias copied over C (beta = 1); C's neighbours,
    /// NaN, stay untouched. The tolerance is that of the GEMM tests: a few √(k+2)·ε times Σ|x||b| + |bias|.
    /// </summary>
    private static void Check<T>(int n, int k, bool transB, int threads, bool relu, bool withBias) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(n * 1009 + k * 2 + (transB ? 1 : 0));
        int ldb = (transB ? k : n) + 3, bOff = 2, aOff = 1, cOff = 4, biasOff = 3;
        T[] x = GemmTests.Random<T>(rng, aOff + k), b = GemmTests.Random<T>(rng, bOff + (transB ? n : k) * ldb), bias = GemmTests.Random<T>(rng, biasOff + n);
        T alpha = T.CreateChecked(0.75);
        var packed = Gemm.PackWholeB(transB, n, k, b, bOff, ldb, threads);
        Assert.NotNull(packed);   // every machine these tests run on has AVX2 at least
        T[] c = new T[cOff + n + 5];
        Array.Fill(c, T.NaN);
        Gemm.Multiply(packed, alpha, x, aOff, withBias ? bias : null, biasOff, c, cOff, threads, relu);

        T[] expected = new T[n], scale = new T[n];
        if (withBias)
        {
            Array.Copy(bias, biasOff, expected, 0, n);
            for (int j = 0; j < n; j++) scale[j] = T.Abs(bias[biasOff + j]);
        }
        GemmTests.Reference(false, transB, 1, n, k, alpha, x, aOff, k, b, bOff, ldb, T.One, expected, 0, n);
        GemmTests.Reference(false, transB, 1, n, k, T.Abs(alpha), x.Select(T.Abs).ToArray(), aOff, k, b.Select(T.Abs).ToArray(), bOff, ldb, T.One, scale, 0, n);
        T eps = T.CreateChecked(typeof(T) == typeof(float) ? 1.2e-7 : 2.3e-16);
        T tolerance = T.CreateChecked(4 * Math.Sqrt(k + 2)) * eps;
        string what = $"{typeof(T).Name} 1×{n}×{k} transB={transB} threads={threads} relu={relu} bias={withBias}";
        for (int i = 0; i < c.Length; i++)
        {
            int j = i - cOff;
            if (j < 0 || j >= n)
            {
                Assert.True(T.IsNaN(c[i]), $"{what}: C[{i}] outside the output was written");
                continue;
            }
            T want = relu ? T.Max(expected[j], T.Zero) : expected[j];
            Assert.True(T.Abs(c[i] - want) <= tolerance * scale[j] + eps, $"{what}: C[{j}] = {c[i]}, expected {want}");
        }
    }
}
