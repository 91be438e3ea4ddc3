using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// op(B) (k×n) packed once for one-row products y = x·op(B) (a Linear layer at batch 1), to be kept while B does not
/// change: column panels of <see cref="Width"/> (four vectors), each stored k-major, so the product streams one panel
/// front to back and broadcasts x. Made by <see cref="Gemm.PackWholeB{T}"/>, used by
/// <see cref="Gemm.Multiply{T}(PackedB{T}, T, T[], int, T[], int, T[], int, int, bool)"/>.
/// </summary>
internal sealed class PackedB<T>(int k, int n, int width, T[] buffer, int start) where T : unmanaged
{
    public int K { get; } = k;
    public int N { get; } = n;

    /// <summary>
    /// Columns per panel. Panel q holds columns q·Width.. and starts at element q·Width·K; the last one is narrower
    /// when n is not a multiple (rounded up to whole vectors, zero-filled).
    /// </summary>
    public int Width { get; } = width;

    /// <summary>A pinned array; the panels start at <see cref="Start"/>, on a cache-line boundary.</summary>
    internal T[] Buffer { get; } = buffer;
    internal int Start { get; } = start;

    /// <summary>Number of panels.</summary>
    public int Panels => (N + Width - 1) / Width;
}

/// <summary>One-row products from a <see cref="PackedB{T}"/> (GEMV).</summary>
internal static unsafe partial class Gemm
{
    /// <summary>
    /// Packs op(B) (k×n, as in <see cref="Multiply(bool, bool, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, int, int)"/>)
    /// for one-row products, or returns null on CPUs without AVX2 (the unpacked path serves them). The panels are packed
    /// by the threads that will read them, so each lands in that core's cache.
    /// </summary>
    /// <remarks>
    /// Why a packed copy, when the dot products (Gemm.Direct.cs) already stream B once: they reduce every column's
    /// vector of partial sums across its lanes, and walk B row by row with a row of x beside it. Here x is broadcast one
    /// element at a time against four vectors of columns, so the only stream is the panel and no sum crosses lanes. Zen 5,
    /// 1×784·784×128 on one core: 1.9 µs against 2.75 µs for the dot products.
    /// </remarks>
    public static PackedB<T>? PackWholeB<T>(bool transB, int n, int k, T[] b, int bOffset, int ldb, int threads, PackedB<T>? reuse = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(b);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        CheckExtent(b.Length, bOffset, transB ? n : k, transB ? k : n, ldb, nameof(b));
        int lanes;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported) lanes = Vector512<T>.Count;
        else if (Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported) lanes = Vector256<T>.Count;
        else return null;
        int width = 4 * lanes, slack = 64 / sizeof(T);
        PackedB<T> packed;
        if (reuse is not null && reuse.K == k && reuse.N == n && reuse.Width == width) packed = reuse;
        else
        {
            var buffer = GC.AllocateUninitializedArray<T>(checked((int)((long)RoundUp(n, lanes) * k + slack)), pinned: true);
            int start = (int)((64 - ((nint)Unsafe.AsPointer(ref buffer[0]) & 63)) & 63) / sizeof(T);
            packed = new PackedB<T>(k, n, width, buffer, start);
        }
        if (n == 0 || k == 0) return packed;
        fixed (T* pb = b)
        {
            var bm = transB ? new Matrix<T>(pb + bOffset, 1, ldb) : new Matrix<T>(pb + bOffset, ldb, 1);
            var panels = (nint)Unsafe.AsPointer(ref packed.Buffer[packed.Start]);
            int parts = Parts(packed, threads);
            CpuParallel.For(parts, parts, t =>
            {
                var (q0, q1) = PanelRange(packed, t, parts);
                for (int q = q0; q < q1; q++)
                {
                    int j = q * width, cols = Math.Min(width, n - j);
                    PackPanel(bm.At(0, j), bm.Col, bm.Row, cols, RoundUp(cols, lanes), k, (T*)panels + (nint)j * k);
                }
            });
        }
        return packed;
    }

    /// <summary>
    /// c[0..n] = alpha·x·op(B) + bias (then max with 0 when <paramref name="relu"/>), x = a[aOffset..+k], with op(B) from
    /// <paramref name="b"/>; the bias (n values, or null) and the ReLU as in the other <c>Multiply</c>.
    /// </summary>
    /// <remarks>
    /// Column j's sum is x·(column j) in one order whatever its panel, its thread or the memory it lies in: products
    /// of even depth into one accumulator, of odd depth into another, then their sum, alpha, the bias and the ReLU. It
    /// is not the order of the unpacked path (nor of the packed GEMM), so the bits can differ from those in the last
    /// place; the backend takes this path for every unrecorded batch-1 product with a transposed B, so a given call
    /// always gets the same bits.
    /// </remarks>
    public static void Multiply<T>(PackedB<T> b, T alpha, T[] a, int aOffset, T[]? bias, int biasOffset, T[] c, int cOffset, int threads, bool relu)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(c);
        CheckExtent(a.Length, aOffset, 1, b.K, b.K, nameof(a));
        CheckExtent(c.Length, cOffset, 1, b.N, b.N, nameof(c));
        if (bias is not null) CheckExtent(bias.Length, biasOffset, 1, b.N, b.N, nameof(bias));
        if (b.N == 0) return;
        fixed (T* pa = a, pc = c, pbias = bias, panels = &b.Buffer[b.Start])
        {
            var p = new Problem<T>(new Matrix<T>(pa + aOffset, b.K, 1), default, new Matrix<T>(pc + cOffset, b.N, 1), 1, b.N, b.K, alpha, T.Zero,
                bias is null ? null : pbias + biasOffset, relu);
            int parts = Parts(b, threads);
            if (parts == 1) PanelProducts(p, panels, b.Width, 0, b.Panels);
            else SplitPanelProducts(p, panels, b, parts);
        }
    }

    /// <summary>Threads for a product (or packing) over <paramref name="b"/>: split by panels from <see cref="DotSplitBytes"/> up, as the dot products are.</summary>
    private static int Parts<T>(PackedB<T> b, int threads) where T : unmanaged
        => (long)b.N * b.K * sizeof(T) >= DotSplitBytes ? Math.Clamp(threads, 1, b.Panels) : 1;

    /// <summary>The panels of part t of <paramref name="parts"/>: the same for packing and for every product, so each core reads what it packed.</summary>
    private static (int From, int To) PanelRange<T>(PackedB<T> b, int t, int parts) where T : unmanaged
        => (t * b.Panels / parts, (t + 1) * b.Panels / parts);

    /// <summary>Part t of the panels on the t-th thread (apart from <see cref="Multiply{T}(PackedB{T}, T, T[], int, T[], int, T[], int, int, bool)"/> so only this path allocates the closure).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SplitPanelProducts<T>(Problem<T> p, T* panels, PackedB<T> b, int parts) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var start = (nint)panels;
        CpuParallel.For(parts, parts, t =>
        {
            var (q0, q1) = PanelRange(b, t, parts);
            PanelProducts(p, (T*)start, b.Width, q0, q1);
        });
    }

    /// <summary>C's columns of panels q0..q1: see <see cref="Multiply{T}(PackedB{T}, T, T[], int, T[], int, T[], int, int, bool)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PanelProducts<T>(Problem<T> p, T* panels, int width, int q0, int q1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* x = p.A.Base, c = p.C.Base;
        int k = p.K;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            int lanes = Vector512<T>.Count;
            var sums = stackalloc Vector512<T>[4];
            for (int q = q0; q < q1; q++)
            {
                int j = q * width, vectors = CeilDiv(Math.Min(width, p.N - j), lanes);
                T* w = panels + (nint)j * k;
                if (vectors == 4) PanelSums(x, w, k, sums);
                else for (int v = 0; v < vectors; v++) sums[v] = ColumnSums(x, w + v * lanes, vectors * lanes, k);
                for (int v = 0; v < vectors; v++)
                {
                    int jv = j + v * lanes, cols = Math.Min(lanes, p.N - jv);
                    var mask = Lanes512.TailMask<T>(cols);
                    Lanes512.StoreLanes(c + jv, Finish(p, sums[v], c + jv, jv, cols == lanes, mask), cols == lanes, mask);
                }
            }
        }
        else
        {
            int lanes = Vector256<T>.Count;
            var sums = stackalloc Vector256<T>[4];
            for (int q = q0; q < q1; q++)
            {
                int j = q * width, vectors = CeilDiv(Math.Min(width, p.N - j), lanes);
                T* w = panels + (nint)j * k;
                if (vectors == 4) PanelSums256(x, w, k, sums);
                else for (int v = 0; v < vectors; v++) sums[v] = ColumnSums256(x, w + v * lanes, vectors * lanes, k);
                for (int v = 0; v < vectors; v++)
                {
                    int jv = j + v * lanes, cols = Math.Min(lanes, p.N - jv);
                    var mask = Lanes256.TailMask<T>(cols);
                    Lanes256.StoreLanes(c + jv, Finish256(p, sums[v], c + jv, jv, cols == lanes, mask), cols == lanes, mask);
                }
            }
        }
    }

    /// <summary>
    /// The sums of a whole panel (four vectors of columns, rows 4·V apart): eight accumulators, even depths into the first
    /// four and odd into the others, which covers the FMA latency on two pipes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PanelSums<T>(T* x, T* w, int k, Vector512<T>* sums) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int v = Vector512<T>.Count;
        Vector512<T> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        int d = 0;
        for (; d + 2 <= k; d += 2, w += 8 * v)
        {
            var xa = Vector512.Create(x[d]);
            a0 = Lanes512.Fma(xa, Vector512.LoadAligned(w), a0);
            a1 = Lanes512.Fma(xa, Vector512.LoadAligned(w + v), a1);
            a2 = Lanes512.Fma(xa, Vector512.LoadAligned(w + 2 * v), a2);
            a3 = Lanes512.Fma(xa, Vector512.LoadAligned(w + 3 * v), a3);
            var xb = Vector512.Create(x[d + 1]);
            b0 = Lanes512.Fma(xb, Vector512.LoadAligned(w + 4 * v), b0);
            b1 = Lanes512.Fma(xb, Vector512.LoadAligned(w + 5 * v), b1);
            b2 = Lanes512.Fma(xb, Vector512.LoadAligned(w + 6 * v), b2);
            b3 = Lanes512.Fma(xb, Vector512.LoadAligned(w + 7 * v), b3);
        }
        if (d < k)
        {
            var xa = Vector512.Create(x[d]);
            a0 = Lanes512.Fma(xa, Vector512.LoadAligned(w), a0);
            a1 = Lanes512.Fma(xa, Vector512.LoadAligned(w + v), a1);
            a2 = Lanes512.Fma(xa, Vector512.LoadAligned(w + 2 * v), a2);
            a3 = Lanes512.Fma(xa, Vector512.LoadAligned(w + 3 * v), a3);
        }
        sums[0] = a0 + b0;
        sums[1] = a1 + b1;
        sums[2] = a2 + b2;
        sums[3] = a3 + b3;
    }

    /// <summary>The sums of one vector of columns of a narrower (last) panel, rows <paramref name="pitch"/> apart, in <see cref="PanelSums{T}"/>'s order.</summary>
    private static Vector512<T> ColumnSums<T>(T* x, T* w, int pitch, int k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Vector512<T> a = default, b = default;
        int d = 0;
        for (; d + 2 <= k; d += 2, w += 2 * pitch)
        {
            a = Lanes512.Fma(Vector512.Create(x[d]), Vector512.LoadAligned(w), a);
            b = Lanes512.Fma(Vector512.Create(x[d + 1]), Vector512.LoadAligned(w + pitch), b);
        }
        if (d < k) a = Lanes512.Fma(Vector512.Create(x[d]), Vector512.LoadAligned(w), a);
        return a + b;
    }

    /// <summary><see cref="PanelSums{T}"/> with 256-bit vectors (AVX2 CPUs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PanelSums256<T>(T* x, T* w, int k, Vector256<T>* sums) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int v = Vector256<T>.Count;
        Vector256<T> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        int d = 0;
        for (; d + 2 <= k; d += 2, w += 8 * v)
        {
            var xa = Vector256.Create(x[d]);
            a0 = Lanes256.MultiplyAdd(xa, Vector256.LoadAligned(w), a0);
            a1 = Lanes256.MultiplyAdd(xa, Vector256.LoadAligned(w + v), a1);
            a2 = Lanes256.MultiplyAdd(xa, Vector256.LoadAligned(w + 2 * v), a2);
            a3 = Lanes256.MultiplyAdd(xa, Vector256.LoadAligned(w + 3 * v), a3);
            var xb = Vector256.Create(x[d + 1]);
            b0 = Lanes256.MultiplyAdd(xb, Vector256.LoadAligned(w + 4 * v), b0);
            b1 = Lanes256.MultiplyAdd(xb, Vector256.LoadAligned(w + 5 * v), b1);
            b2 = Lanes256.MultiplyAdd(xb, Vector256.LoadAligned(w + 6 * v), b2);
            b3 = Lanes256.MultiplyAdd(xb, Vector256.LoadAligned(w + 7 * v), b3);
        }
        if (d < k)
        {
            var xa = Vector256.Create(x[d]);
            a0 = Lanes256.MultiplyAdd(xa, Vector256.LoadAligned(w), a0);
            a1 = Lanes256.MultiplyAdd(xa, Vector256.LoadAligned(w + v), a1);
            a2 = Lanes256.MultiplyAdd(xa, Vector256.LoadAligned(w + 2 * v), a2);
            a3 = Lanes256.MultiplyAdd(xa, Vector256.LoadAligned(w + 3 * v), a3);
        }
        sums[0] = a0 + b0;
        sums[1] = a1 + b1;
        sums[2] = a2 + b2;
        sums[3] = a3 + b3;
    }

    /// <summary><see cref="ColumnSums{T}"/> with 256-bit vectors.</summary>
    private static Vector256<T> ColumnSums256<T>(T* x, T* w, int pitch, int k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Vector256<T> a = default, b = default;
        int d = 0;
        for (; d + 2 <= k; d += 2, w += 2 * pitch)
        {
            a = Lanes256.MultiplyAdd(Vector256.Create(x[d]), Vector256.LoadAligned(w), a);
            b = Lanes256.MultiplyAdd(Vector256.Create(x[d + 1]), Vector256.LoadAligned(w + pitch), b);
        }
        if (d < k) a = Lanes256.MultiplyAdd(Vector256.Create(x[d]), Vector256.LoadAligned(w), a);
        return a + b;
    }
}
