using System.Numerics;
using Nabla.Kernels.Cpu;
using Xunit;

namespace Nabla.Tests.Kernels;

/// <summary>
/// <see cref="Gemm"/> against the triple-loop <see cref="ReferenceGemm"/>: odd shapes that leave partial register tiles,
/// shapes on both sides of the direct/packed switch and of the depth and row blocking, all four layouts, offsets and
/// leading dimensions wider than the matrix, one and two threads, float and double.
/// </summary>
public class GemmTests
{
    /// <summary>
    /// (m, n, k). Covers 1×1×1, vectors, batch-1 inference, primes, 63/65/127/129 around the tile and vector widths,
    /// several depth blocks (k &gt; 512), and, with two threads, both ways the packed path splits: by columns (one row
    /// block: 150×70×300, 9×1500×80; by rows when A is transposed and C small, as a weight gradient: 150×70×300,
    /// 127×129×65, 129×127×63 with A transposed) and by rows with a shared packed B (300×40×100; and with a single column panel,
    /// 256×10×128, 100×16×200, 7×12×4000, the last with one row panel per thread; 300×40×1100 in the deeper blocks
    /// of a shared B; 100×40×1100 in those of a transposed B, A packed whole beforehand on two threads); small-m direct
    /// products with ragged column counts (2×301×250, 1×18×4000), and ones whose B (≥ 64 KB) the dot-product path splits
    /// over the threads (1×256×784, 1×18×4000, 3×203×700: blocks of 16 columns and a ragged rest).
    /// </summary>
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (1, 7, 5), (5, 1, 9), (3, 40, 2), (1, 256, 784), (4, 300, 300),
        (17, 31, 13), (8, 32, 1), (63, 65, 127), (65, 63, 129), (127, 129, 65), (129, 127, 63),
        (64, 64, 64), (20, 40, 1100), (150, 70, 300), (9, 1500, 80), (300, 40, 100), (2, 301, 250), (1, 18, 4000), (3, 203, 700),
        (256, 10, 128), (100, 16, 200), (7, 12, 4000), (300, 40, 1100), (100, 40, 1100),
    ];

    public static TheoryData<int, int, int, bool, bool, int> FloatCases() => EveryLayout(Shapes);

    public static TheoryData<int, int, int, bool, bool, int> DoubleCases() =>
        EveryLayout([(1, 1, 1), (1, 100, 300), (2, 75, 600), (17, 31, 13), (65, 63, 129), (129, 33, 300), (300, 20, 600), (100, 40, 600)]);

    /// <summary>Each shape with A and B each transposed or not, on one and two threads.</summary>
    private static TheoryData<int, int, int, bool, bool, int> EveryLayout((int M, int N, int K)[] shapes)
    {
        var data = new TheoryData<int, int, int, bool, bool, int>();
        foreach (var (m, n, k) in shapes)
            foreach (bool transA in new[] { false, true })
                foreach (bool transB in new[] { false, true })
                    foreach (int threads in new[] { 1, 2 })
                        data.Add(m, n, k, transA, transB, threads);
        return data;
    }

    [Theory]
    [MemberData(nameof(FloatCases))]
    public void Float_matches_reference(int m, int n, int k, bool transA, bool transB, int threads)
        => Check<float>(m, n, k, transA, transB, 0.75, 0.5, threads, seed: Seed(m, n, k, transA, transB));

    [Theory]
    [MemberData(nameof(DoubleCases))]
    public void Double_matches_reference(int m, int n, int k, bool transA, bool transB, int threads)
        => Check<double>(m, n, k, transA, transB, -1.25, 2, threads, seed: Seed(m, n, k, transA, transB));

    /// <summary>Direct and packed paths, with a second depth block that must accumulate onto the first rather than apply beta again. Beta = 0 starts C as NaN, which must not leak.</summary>
    public static TheoryData<int, int, int, bool, bool, int> SharedCases() =>
        EveryLayout([(1, 7, 5), (4, 300, 300), (17, 31, 13), (64, 196, 800), (63, 65, 127), (150, 70, 300), (300, 40, 100), (300, 50, 1100)]);

    /// <summary>
    /// A packed once (<see cref="Gemm.Share{T}"/>) and used for two products: on both sides of the direct/packed switch,
    /// one and several depth blocks and row blocks (m = 300 &gt; MC), every layout.
    /// </summary>
    [Theory]
    [MemberData(nameof(SharedCases))]
    public void Shared_A_matches_reference(int m, int n, int k, bool transA, bool transB, int threads)
    {
        Check<float>(m, n, k, transA, transB, 1.0, 0.0, threads, seed: m * 31 + n * 7 + k, shared: true);
        Check<double>(m, n, k, transA, transB, -0.5, 2.0, threads, seed: m * 29 + n * 5 + k, shared: true);
    }

    [Theory]
    [InlineData(1.0, 0.0)]
    [InlineData(1.0, 1.0)]
    [InlineData(-0.5, 2.0)]
    [InlineData(2.0, -1.0)]
    [InlineData(0.3, 0.0)]
    public void Alpha_and_beta_variations(double alpha, double beta)
    {
        foreach (var (m, n, k) in new[] { (3, 50, 20), (4, 90, 800), (24, 50, 600), (300, 20, 170) })
        {
            Check<float>(m, n, k, false, false, alpha, beta, threads: 1, seed: m);
            Check<float>(m, n, k, true, true, alpha, beta, threads: 2, seed: m);
            Check<double>(m, n, k, false, true, alpha, beta, threads: 2, seed: m);
        }
    }

    /// <summary>
    /// A product wide enough (k·n beyond the packed-B limit) that B is packed in several column blocks: transposed, and
    /// untransposed with rows enough to share the packed B (packed row by row across the panels, the last one ragged).
    /// </summary>
    [Fact]
    public void Several_column_blocks_of_B()
    {
        Check<float>(5, 1000, 2100, true, true, 1, 0.5, threads: 2, seed: 5);
        Check<float>(96, 1001, 2100, false, false, 1, 0.5, threads: 2, seed: 6);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(1.0)]
    public void Empty_depth_scales_C_by_beta(double beta)
    {
        foreach (var (m, n) in new[] { (1, 1), (7, 300), (40, 40) })
        {
            Check<float>(m, n, 0, false, false, 1, beta, threads: 2, seed: n);
            Check<double>(m, n, 0, true, true, 1, beta, threads: 1, seed: n);
        }
    }

    [Fact]
    public void Zero_alpha_scales_C_without_reading_A_or_B()
    {
        var a = Enumerable.Repeat(float.NaN, 40 * 50).ToArray();
        var b = Enumerable.Repeat(float.NaN, 50 * 60).ToArray();
        var c = Enumerable.Range(0, 40 * 60).Select(i => (float)i).ToArray();
        Gemm.Multiply(false, false, 40, 60, 50, 0f, a, 0, 50, b, 0, 60, 0.5f, c, 0, 60, 2);
        for (int i = 0; i < c.Length; i++) Assert.Equal(0.5f * i, c[i]);
    }

    [Fact]
    public void Empty_output_touches_nothing()
    {
        var c = new[] { 1f, 2f };
        Gemm.Multiply(false, false, 0, 2, 3, 1f, [], 0, 3, new float[6], 0, 2, 0f, c, 0, 2, 2);
        Gemm.Multiply(false, false, 1, 0, 3, 1f, new float[3], 0, 3, [], 0, 0, 0f, c, 0, 0, 2);
        Assert.Equal([1f, 2f], c);
    }

    [Fact]
    public void Arrays_too_small_for_the_shape_are_rejected()
    {
        var a = new float[4 * 5];
        var b = new float[5 * 6];
        var c = new float[4 * 6];
        Gemm.Multiply(false, false, 4, 6, 5, 1f, a, 0, 5, b, 0, 6, 0f, c, 0, 6, 1);
        Assert.ThrowsAny<ArgumentException>(() => Gemm.Multiply(false, false, 4, 6, 5, 1f, a, 1, 5, b, 0, 6, 0f, c, 0, 6, 1));
        Assert.ThrowsAny<ArgumentException>(() => Gemm.Multiply(false, true, 4, 6, 5, 1f, a, 0, 5, b, 0, 6, 0f, c, 0, 6, 1));
        Assert.ThrowsAny<ArgumentException>(() => Gemm.Multiply(false, false, 4, 6, 5, 1f, a, 0, 5, b, 0, 6, 0f, c, 0, 7, 1));
        Assert.ThrowsAny<ArgumentException>(() => Gemm.Multiply(false, false, 4, 6, 5, 1f, a, 0, 4, b, 0, 6, 0f, c, 0, 6, 1));
        Assert.ThrowsAny<ArgumentException>(() => Gemm.Multiply(false, false, -1, 6, 5, 1f, a, 0, 5, b, 0, 6, 0f, c, 0, 6, 1));
    }

    /// <summary>
    /// B rows a power of two apart (256 or 128 values: a few L1 sets) are packed a kc×NR slice at a time where rows with
    /// other strides are read in place, once a task has enough rows and depth; with few rows they are read in place
    /// again. Both, in every layout of A, one and two threads (130 rows over two threads: columns split, A packed once).
    /// </summary>
    [Theory]
    [InlineData(40, 256, 300)]
    [InlineData(130, 128, 200)]
    [InlineData(20, 256, 300)]
    public void Crowded_B_rows_match_reference(int m, int n, int k)
    {
        foreach (bool transA in new[] { false, true })
            foreach (int threads in new[] { 1, 2 })
            {
                Check<float>(m, n, k, transA, false, 1, 0, threads, seed: m + k, bPad: 0);
                Check<double>(m, n, k, transA, false, -0.5, 2, threads, seed: m + k, bPad: 0);
            }
    }

    /// <summary>Several callers at once share the worker pool (and each has its own packing buffers).</summary>
    [Fact]
    public void Concurrent_callers_get_correct_results()
    {
        Parallel.For(0, 8, i => Check<float>(300 + i, 30, 120, i % 2 == 0, i % 3 == 0, 1, 0, threads: 2, seed: i));
    }

    /// <summary>
    /// The same operands give the same bits wherever they lie in memory and however many threads share the work: a
    /// managed array lands anywhere, and a checkpoint recomputes into new storage, then must reproduce the first pass
    /// exactly. Each operand is placed at every element offset within a cache line (the dot-product path aligns its
    /// loads to the vectors of B); the shapes take the dot-product path (few rows, B transposed; 1×256×784 and
    /// 3×203×700 split over the threads, the latter so that columns 197–199 fall in a vector block on one thread and in
    /// the ragged rest on two; 3×203×712 and 2×37×136 the same with B rows a whole number of vectors apart, which the
    /// AVX2 path reads two rows at a time; ragged column and depth counts) and the packed one (64×40×100; 64×10×600,
    /// whose rows two threads split where one thread takes them as one block; 300×40×600, two row blocks either way;
    /// 128×40×600, whose A two threads pack whole beforehand, in the deeper blocks of a transposed B).
    /// </summary>
    [Theory]
    [InlineData(1, 256, 784)]
    [InlineData(3, 203, 700)]
    [InlineData(3, 203, 712)]
    [InlineData(2, 37, 136)]
    [InlineData(3, 20, 4)]
    [InlineData(2, 19, 37)]
    [InlineData(4, 9, 130)]
    [InlineData(1, 40, 1)]
    [InlineData(64, 40, 100)]
    [InlineData(64, 10, 600)]
    [InlineData(300, 40, 600)]
    [InlineData(128, 40, 600)]
    public void Results_do_not_depend_on_addresses_or_threads(int m, int n, int k)
    {
        Placements<float>(m, n, k);
        Placements<double>(m, n, k);
    }

    private static void Placements<T>(int m, int n, int k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(Seed(m, n, k, false, false));
        T[] a = Random<T>(rng, m * k), b = Random<T>(rng, n * k);
        int line = 64 / System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        foreach (bool transB in new[] { true, false })
        {
            T[]? first = null;
            for (int shift = 0; shift < line; shift++)
            {
                foreach (int threads in new[] { 1, 2 })
                {
                    // The copies are shifted by different amounts, so A and B also meet at every relative offset.
                    int aOff = (3 * shift) % line, bOff = shift;
                    T[] ap = new T[aOff + a.Length], bp = new T[bOff + b.Length], c = new T[m * n];
                    a.CopyTo(ap, aOff);
                    b.CopyTo(bp, bOff);
                    Multiply(false, transB, m, n, k, T.One, ap, aOff, k, bp, bOff, transB ? k : n, T.Zero, c, 0, n, threads);
                    first ??= c;
                    Assert.True(first.AsSpan().SequenceEqual(c),
                        $"{typeof(T).Name} {m}×{n}×{k} transB={transB}: A at +{aOff}, B at +{bOff}, {threads} threads differ from the first placement");
                }
            }
        }
    }

    public static TheoryData<int, int, int, bool, bool, int> BiasCases() =>
        EveryLayout([(1, 256, 784), (3, 20, 50), (5, 7, 0), (17, 31, 13), (20, 40, 300), (64, 10, 128), (65, 63, 129), (100, 40, 1100), (300, 40, 100), (256, 10, 128)]);

    /// <summary>
    /// A row bias added by the product itself (a Linear layer's addmm) gives the very bits of the bias copied over C
    /// first and the product added onto it (beta = 1, which the reference tests cover): direct and packed paths, whole
    /// and edge tiles, one and several depth and row blocks, k = 0, every layout, one and two threads. C's padding
    /// stays untouched, and the bias is read at its offset.
    /// </summary>
    [Theory]
    [MemberData(nameof(BiasCases))]
    public void Row_bias_gives_the_bits_of_copying_it_first(int m, int n, int k, bool transA, bool transB, int threads)
    {
        foreach (bool relu in new[] { false, true })
        {
            BiasCheck<float>(m, n, k, transA, transB, threads, relu);
            BiasCheck<double>(m, n, k, transA, transB, threads, relu);
        }
    }

    /// <summary>
    /// The fused bias against the bias copied over C first; with <paramref name="relu"/>, the fused ReLU against
    /// TensorPrimitives.Max(c, 0) applied afterwards (as the ReLU op does), with a NaN planted in A (m &gt; 1) whose row
    /// must stay NaN.
    /// </summary>
    private static void BiasCheck<T>(int m, int n, int k, bool transA, bool transB, int threads, bool relu) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(Seed(m, n, k, transA, transB));
        int lda = (transA ? m : k) + 1, ldb = (transB ? k : n) + 2, ldc = n + 3;
        T[] a = Random<T>(rng, 1 + (transA ? k : m) * lda), b = Random<T>(rng, 2 + (transB ? n : k) * ldb), bias = Random<T>(rng, 3 + n);
        // A negative bias in the first column, so that with k = 0 (C = bias) the ReLU has something to rectify whatever
        // the draws; elsewhere the product's signs vary.
        bias[3] = -T.One - T.Abs(bias[3]);
        bool nan = relu && k > 0 && m > 1;
        if (nan) a[1 + (m - 1) * (transA ? 1 : lda)] = T.NaN;   // op(A)[m − 1, 0]: the last row of C is NaN
        T[] fused = new T[1 + m * ldc + 2], copied = new T[fused.Length];
        Array.Fill(fused, T.NaN);
        Array.Fill(copied, T.NaN);
        T alpha = T.CreateChecked(0.75);
        for (int i = 0; i < m; i++) Array.Copy(bias, 3, copied, 1 + i * ldc, n);
        Multiply(transA, transB, m, n, k, alpha, a, 1, lda, b, 2, ldb, T.One, copied, 1, ldc, threads);
        if (relu)
        {
            for (int i = 0; i < m; i++)
            {
                var row = copied.AsSpan(1 + i * ldc, n);
                System.Numerics.Tensors.TensorPrimitives.Max(row, T.Zero, row);
            }
        }
        Gemm.Multiply(transA, transB, m, n, k, alpha, a, 1, lda, b, 2, ldb, bias, 3, fused, 1, ldc, threads, relu);
        Assert.True(copied.AsSpan().SequenceEqual(fused), $"{typeof(T).Name} {m}×{n}×{k} transA={transA} transB={transB} threads={threads} relu={relu}: the fused result differs");
        if (nan) Assert.True(T.IsNaN(fused[1 + (m - 1) * ldc]), "a NaN in A must reach C through the ReLU");
        if (relu) Assert.Contains(Enumerable.Range(0, m * n), e => fused[1 + e / n * ldc + e % n] == T.Zero);   // something was rectified
    }

    /// <summary>
    /// Runs Gemm and the reference on the same random operands, with offsets and padded leading dimensions, and compares
    /// the whole C buffer (so padding between rows must survive untouched). Beta = 0 starts C as NaN.
    /// The tolerance is per element: a few √(k+2)·ε times |alpha|·Σ|a||b| + |beta·c|, the magnitude the rounding scales with.
    /// </summary>
    private static void Check<T>(int m, int n, int k, bool transA, bool transB, double alpha, double beta, int threads, int seed, bool shared = false, int? bPad = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(seed);
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        int lda = aCols + rng.Next(3), ldb = bCols + rng.Next(3), ldc = n + rng.Next(3);
        if (bPad is int pad) ldb = bCols + pad;
        int aOff = rng.Next(5), bOff = rng.Next(5), cOff = rng.Next(5);
        T[] a = Random<T>(rng, aOff + aRows * lda + 2);
        T[] b = Random<T>(rng, bOff + bRows * ldb + 2);
        T[] c = Random<T>(rng, cOff + m * ldc + 2);
        if (beta == 0) Array.Fill(c, T.NaN);
        T[] expected = (T[])c.Clone();
        T al = T.CreateChecked(alpha), be = T.CreateChecked(beta);

        if (shared)
        {
            // A first product with another B, so the second one reads the packed A a second time.
            using var packed = Gemm.Share(transA, m, n, k, a, aOff, lda, threads);
            T[] other = Random<T>(rng, b.Length), scratch = new T[c.Length];
            Gemm.Multiply(packed, transB, n, al, other, bOff, ldb, T.Zero, scratch, cOff, ldc, threads);
            Gemm.Multiply(packed, transB, n, al, b, bOff, ldb, be, c, cOff, ldc, threads);
        }
        else
        {
            Multiply(transA, transB, m, n, k, al, a, aOff, lda, b, bOff, ldb, be, c, cOff, ldc, threads);
        }
        Reference(transA, transB, m, n, k, al, a, aOff, lda, b, bOff, ldb, be, expected, cOff, ldc);

        // The same product on absolute values bounds the size of every partial sum.
        T[] scale = c.Select(x => T.IsNaN(x) ? T.Zero : T.Abs(x)).ToArray();
        Reference(transA, transB, m, n, k, T.Abs(al), a.Select(T.Abs).ToArray(), aOff, lda, b.Select(T.Abs).ToArray(), bOff, ldb,
            T.Abs(be), scale, cOff, ldc);
        T eps = T.CreateChecked(typeof(T) == typeof(float) ? 1.2e-7 : 2.3e-16);
        T tolerance = T.CreateChecked(4 * Math.Sqrt(k + 2)) * eps;
        for (int i = 0; i < c.Length; i++)
        {
            bool inWindow = i >= cOff && i < cOff + m * ldc && (i - cOff) % ldc < n;
            if (!inWindow)
            {
                Assert.True(T.IsNaN(expected[i]) ? T.IsNaN(c[i]) : c[i] == expected[i], $"C[{i}] outside the output was modified");
                continue;
            }
            Assert.False(T.IsNaN(c[i]), $"C[{i}] is NaN ({m}×{n}×{k}, transA={transA}, transB={transB}, threads={threads})");
            T error = T.Abs(c[i] - expected[i]);
            Assert.True(error <= tolerance * scale[i] + eps,
                $"C[{i}] = {c[i]}, expected {expected[i]} ({m}×{n}×{k}, transA={transA}, transB={transB}, threads={threads})");
        }
    }

    /// <summary>
    /// A seed fixed by the case, the same in every process (HashCode.Combine is randomized per process, so a failing
    /// draw could neither be reproduced nor ruled out).
    /// </summary>
    private static int Seed(int m, int n, int k, bool transA, bool transB)
        => ((m * 1009 + n) * 1009 + k) * 4 + (transA ? 2 : 0) + (transB ? 1 : 0);

    internal static T[] Random<T>(Random rng, int length) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = new T[length];
        for (int i = 0; i < length; i++) x[i] = T.CreateChecked(rng.NextDouble() * 2 - 1);
        return x;
    }

    private static void Multiply<T>(bool transA, bool transB, int m, int n, int k, T alpha, T[] a, int aOff, int lda, T[] b, int bOff, int ldb, T beta, T[] c, int cOff, int ldc, int threads)
    {
        if (typeof(T) == typeof(float))
            Gemm.Multiply(transA, transB, m, n, k, (float)(object)alpha!, (float[])(object)a, aOff, lda, (float[])(object)b, bOff, ldb, (float)(object)beta!, (float[])(object)c, cOff, ldc, threads);
        else
            Gemm.Multiply(transA, transB, m, n, k, (double)(object)alpha!, (double[])(object)a, aOff, lda, (double[])(object)b, bOff, ldb, (double)(object)beta!, (double[])(object)c, cOff, ldc, threads);
    }

    internal static void Reference<T>(bool transA, bool transB, int m, int n, int k, T alpha, T[] a, int aOff, int lda, T[] b, int bOff, int ldb, T beta, T[] c, int cOff, int ldc)
    {
        if (typeof(T) == typeof(float))
            ReferenceGemm.Multiply(transA, transB, m, n, k, (float)(object)alpha!, (float[])(object)a, aOff, lda, (float[])(object)b, bOff, ldb, (float)(object)beta!, (float[])(object)c, cOff, ldc);
        else
            ReferenceGemm.Multiply(transA, transB, m, n, k, (double)(object)alpha!, (double[])(object)a, aOff, lda, (double[])(object)b, bOff, ldb, (double)(object)beta!, (double[])(object)c, cOff, ldc);
    }
}
