using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Nabla.Kernels.Cpu;

/// <summary>The unpacked path for small products and few rows (batch-1 inference).</summary>
internal static unsafe partial class Gemm
{
    /// <summary>
    /// Unpacked product for small problems and for m ≤ 4. With so few rows the work is streaming B through the cache
    /// once, so speed is the rate at which B arrives. When B rows are contiguous the product is done as row updates on
    /// the calling thread: measured on the 2-core Zen 5 VM, a second thread made 4×256×784 slower. When op(B) is
    /// transposed (x·Wᵀ, the layout of <c>Linear</c>) it is done as dot products, and a B of at least
    /// <see cref="DotSplitBytes"/> is split by columns over the threads, each thread always taking the same columns
    /// (see <see cref="CpuParallel.For"/>): a weight matrix that does not fit one core's L2 then stays split over both
    /// cores' caches from call to call.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Direct<T>(Problem<T> p, int threads) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Fuses(p.B))
        {
            Debug.Assert(p.Bias == null && !p.Relu, "row updates neither add a bias nor rectify");
            RowUpdates(p);
            return;
        }
        int parts = (long)p.N * p.K * sizeof(T) >= DotSplitBytes ? Math.Min(threads, p.N / 8) : 1;
        if (parts <= 1) DotProducts(p, AlignedRows(p, out nint lda), lda, 0, p.N);
        else SplitDotProducts(p, parts);
    }

    /// <summary>
    /// Whether the unpacked product of this B (op(B) transposed: the dot products) adds the bias and rectifies each
    /// result as it stores it. Each thread then writes its own columns of C once and reads nothing of C; copying the bias
    /// over C first and rectifying after, on the calling thread, made the other core's columns cross between the cores
    /// twice per call. Zen 5, the MLP's batch-1 inference, in-process A/B (medians of three runs each): 4.80–4.84 →
    /// 4.66–4.72 µs, and 7.20–7.40 → 6.58–6.83 µs in processes where this VM ran slow.
    /// </summary>
    private static bool Fuses<T>(Matrix<T> b) where T : unmanaged => b.Col != 1;

    /// <summary>
    /// Column part t of <paramref name="parts"/> on the t-th thread (kept apart from <see cref="Direct"/> so only this
    /// path allocates the closure). Each thread aligns its own copy of A's rows: reading the caller's fresh copy would
    /// move every line of it (49 for k = 784) from the caller's core on every call.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SplitDotProducts<T>(Problem<T> p, int parts) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CpuParallel.For(parts, parts, t => DotProducts(p, AlignedRows(p, out nint lda), lda, t * p.N / parts, (t + 1) * p.N / parts));
    }

    /// <summary>
    /// Below this size of B (64 KB) the dot products stay on one thread. Alone, a split does not pay below ≈ 256 KB
    /// (on the 2-core Zen 5 VM 1×256·256×128, 128 KB, took 1.65 µs on one thread and 2.5 µs split). But a network's
    /// layers share the caches: in the MLP's batch-1 inference on Zen 3 (512 KB of L2 per core), the first layer's
    /// 784 KB is split and the second's 128 KB, left on the calling core, pushed that core's half of the first out of
    /// its L2 on every call; split too, both halves stay. In-process A/B: 13.9 → 12.8 and 13.5 → 12.6 µs (medians).
    /// </summary>
    private const long DotSplitBytes = 64 * 1024;

    /// <summary>
    /// Copies the rows of op(A) into this thread's scratch at the same offset within a cache line as the first row of
    /// B. The dot products align their loads of B, so when B rows are a whole number of cache lines apart (k = 784,
    /// 256, 128, 3136 all are) the loads of A are aligned too. Returns the first row; rows are
    /// <paramref name="stride"/> apart.
    /// </summary>
    private static T* AlignedRows<T>(Problem<T> p, out nint stride) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int line = 64 / sizeof(T);
        int phase = (int)(((nint)p.B.Base & 63) / sizeof(T));
        if (p.A.Col == 1 && ((nint)p.A.Base & 63) == ((nint)p.B.Base & 63) && (p.M == 1 || p.A.Row % line == 0))
        {
            stride = p.A.Row;
            return p.A.Base;
        }
        stride = RoundUp(p.K, line);
        T* rows = Scratch<T>.A((int)(p.M * stride) + line) + phase;
        for (int i = 0; i < p.M; i++)
        {
            T* from = p.A.At(i, 0), to = rows + i * stride;
            if (p.A.Col == 1) new ReadOnlySpan<T>(from, p.K).CopyTo(new Span<T>(to, p.K));
            else for (int d = 0; d < p.K; d++) to[d] = from[d * p.A.Col];
        }
        return rows;
    }

    /// <summary>
    /// C[i, j0..j1] = alpha·(A row i · B row j) + beta·C[i, j] (+ bias[j], then max with 0 with <see cref="Problem{T}.Relu"/>)
    /// for every row i, with A rows lda apart and contiguous.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotProducts<T>(Problem<T> p, T* a, nint lda, int j0, int j1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // One B row at a time, read front to back: a single stream per core is what the prefetchers follow best
        // (measured faster than 2, 4 or 8 rows interleaved). The AVX2 path takes two adjacent rows at a time when it can
        // (DotVectorPair256): there the loads of x, not the streams, were the limit.
        T* b = p.B.Base, c = p.C.Base;
        nint ldb = p.B.Col, ldc = p.C.Row;
        int m = p.M, k = p.K;
        nint j = j0;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            // A block of one vector's width of B rows: their dot products are left as vectors and reduced together
            // by one transpose-and-add tree, rather than each by its own horizontal sum (≈ 20 instructions on a long
            // dependency chain: as much as the 16 FMAs of a 256-long row). A last, partial block pads with zeros and
            // stores under a mask: the 10 classes of a classifier's last layer were 10 scalar sums (Dot). Zen 5, the MLP's
            // batch-1 inference, in-process A/B, three runs: 4.81–4.93 → 4.62–4.80 µs (medians). Lane l of the tree
            // depends on row j + l alone, so a column's bits do not depend on the block (whole or partial) or the thread
            // that takes it.
            int width = Vector512<T>.Count;
            var partial = stackalloc Vector512<T>[Vector512<T>.Count];
            for (; j < j1; j += width)
            {
                int cols = (int)Math.Min(width, j1 - j);
                var mask = Lanes512.TailMask<T>(cols);
                for (nint i = 0; i < m; i++)
                {
                    T* ai = a + i * lda;
                    for (int l = 0; l < cols; l++) partial[l] = DotVector(ai, b + (j + l) * ldb, k);
                    for (int l = cols; l < width; l++) partial[l] = default;
                    var sums = Finish(p, SumEach(partial), c + i * ldc + j, j, cols == width, mask);
                    Lanes512.StoreLanes(c + i * ldc + j, sums, cols == width, mask);
                }
            }
        }
        else if (Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported)
        {
            // The same with 256-bit vectors (AVX2 CPUs). Row by row, with two accumulators and a horizontal sum each,
            // the MLP's batch-1 inference (784×256, then 256×128) was bound by the FMA latency: on Zen 3 this took it
            // from 24.7 to 13.0 µs (median, two threads; one thread 29.7 → 20.3 µs).
            int width = Vector256<T>.Count;
            var partial = stackalloc Vector256<T>[Vector256<T>.Count];
            bool pairs = ldb * sizeof(T) % 32 == 0; // two rows at the same offset within a vector
            for (; j < j1; j += width)
            {
                int cols = (int)Math.Min(width, j1 - j);
                var mask = Lanes256.TailMask<T>(cols);
                for (nint i = 0; i < m; i++)
                {
                    T* ai = a + i * lda;
                    int l = 0;
                    if (pairs)
                    {
                        for (; l + 2 <= cols; l += 2) DotVectorPair256(ai, b + (j + l) * ldb, b + (j + l + 1) * ldb, k, out partial[l], out partial[l + 1]);
                    }
                    for (; l < cols; l++) partial[l] = DotVector256(ai, b + (j + l) * ldb, k);
                    for (; l < width; l++) partial[l] = default;
                    var sums = Finish256(p, SumEach256(partial), c + i * ldc + j, j, cols == width, mask);
                    Lanes256.StoreLanes(c + i * ldc + j, sums, cols == width, mask);
                }
            }
        }
        for (; j < j1; j++)
        {
            T* bj = b + j * ldb;
            for (nint i = 0; i < m; i++)
            {
                T* cij = c + i * ldc + j;
                T sum = Combine(Dot(a + i * lda, bj, k), p.Alpha, p.Beta, *cij);
                if (p.Bias != null) sum += p.Bias[j];
                *cij = p.Relu ? T.Max(sum, T.Zero) : sum;
            }
        }
    }

    /// <summary>
    /// alpha·sums + beta·C (fused) + bias, then max with 0 if rectifying: the sums of one block of columns j.., the
    /// same bits as copying the bias over C first and adding the product with beta = 1. C (when beta ≠ 0) and the bias
    /// are read whole, or, for a partial block, only in the lanes set in <paramref name="mask"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Finish<T>(Problem<T> p, Vector512<T> sums, T* ci, nint j, bool whole, Vector512<T> mask) where T : unmanaged, IFloatingPointIeee754<T>
    {
        sums = Vector512.Create(p.Alpha) * sums;
        if (p.Beta != T.Zero) sums = Lanes512.Fma(Vector512.Create(p.Beta), whole ? Vector512.Load(ci) : Lanes512.LoadLanes(ci, mask), sums);
        if (p.Bias != null) sums += whole ? Vector512.Load(p.Bias + j) : Lanes512.LoadLanes(p.Bias + j, mask);
        return p.Relu ? Vector512.Max(sums, Vector512<T>.Zero) : sums;
    }

    /// <summary><see cref="Finish{T}"/> for 256-bit vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Finish256<T>(Problem<T> p, Vector256<T> sums, T* ci, nint j, bool whole, Vector256<T> mask) where T : unmanaged, IFloatingPointIeee754<T>
    {
        sums = Vector256.Create(p.Alpha) * sums;
        if (p.Beta != T.Zero) sums = Lanes256.MultiplyAdd(Vector256.Create(p.Beta), whole ? Vector256.Load(ci) : Lanes256.LoadLanes(ci, mask), sums);
        if (p.Bias != null) sums += whole ? Vector256.Load(p.Bias + j) : Lanes256.LoadLanes(p.Bias + j, mask);
        return p.Relu ? Vector256.Max(sums, Vector256<T>.Zero) : sums;
    }

    /// <summary>
    /// x · y over n values, for CPUs without AVX2 (Vector&lt;T&gt; or scalar code); with AVX2 or AVX-512 every column goes
    /// through a block of <see cref="DotProducts{T}"/>, the last one partial.
    /// </summary>
    private static T Dot<T>(T* x, T* y, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T sum = T.Zero;
        int d = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<T> s0 = default, s1 = default;
            for (; d <= n - 2 * Vector<T>.Count; d += 2 * Vector<T>.Count)
            {
                s0 = Fma(Vector.Load(x + d), Vector.Load(y + d), s0);
                s1 = Fma(Vector.Load(x + d + Vector<T>.Count), Vector.Load(y + d + Vector<T>.Count), s1);
            }
            sum = Vector.Sum(s0 + s1);
        }
        for (; d < n; d++) sum += x[d] * y[d];
        return sum;
    }

    // The dot products below read y (a row of B, the big operand) with aligned loads: a load that straddles two cache
    // lines costs a second access, and on Zen 5 misaligned operands made 1×784·784×256 40 % slower (on Zen 3, 256-bit
    // loads 16 bytes off made it 10–15 % slower). Yet the result must not depend on where y happens to lie (a managed
    // array moves, and a tensor recomputed by a checkpoint has new storage): peeling scalars up to the boundary would
    // sum in an order set by the address. So the order is fixed by the indices alone — element d goes to lane d mod V
    // of accumulator ⌊d/V⌋ mod 4, V lanes per vector — and the aligned loop, which sees element d in lane (d + off) mod V
    // of vector ⌊(d + off)/V⌋ (off: y's lanes past a vector boundary), is mapped back onto that order at the end.
    // Aligned accumulator b's lanes L ≥ off hold canonical accumulator b's lanes L − off, and its lanes L < off hold
    // canonical accumulator b − 1's lanes L − off + V (those elements' canonical vector began in the aligned vector
    // before). Each slot adds the same products in the same order either way; the head and tail vectors are loaded
    // under masks (masked-out lanes are neither read nor faulted on) and add exact zeros.

    /// <summary>
    /// A vector whose lanes add up to x · y over n values (n ≥ 1), the same bits wherever x and y lie in memory (see
    /// above). Loads of y are aligned, and those of x too when it shares y's offset in a vector; four accumulators cover
    /// the FMA latency.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> DotVector<T>(T* x, T* y, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int v = Vector512<T>.Count;
        int off = (int)((nint)y & (64 - 1)) / sizeof(T), last = (n + off - 1) / v;
        x -= off;
        y -= off;
        var head = Vector512.AndNot(Lanes512.TailMask<T>(off + n), Lanes512.TailMask<T>(off));
        Vector512<T> s0 = Lanes512.Fma(Lanes512.LoadLanes(x, head), Lanes512.LoadLanes(y, head), default), s1 = default, s2 = default, s3 = default;
        nint q = 1;
        // Vectors 1–3 into accumulators 1–3, then whole groups of four, then up to three more into 0–2.
        if (q < last) { s1 = Lanes512.Fma(Vector512.Load(x + q * v), Vector512.LoadAligned(y + q * v), s1); q++; }
        if (q < last) { s2 = Lanes512.Fma(Vector512.Load(x + q * v), Vector512.LoadAligned(y + q * v), s2); q++; }
        if (q < last) { s3 = Lanes512.Fma(Vector512.Load(x + q * v), Vector512.LoadAligned(y + q * v), s3); q++; }
        // The main loop walks two pointers rather than indexing by q·v: the JIT computed each indexed address anew (three
        // integer instructions per load). Zen 5, in-process A/B, one and two threads: 1×256×784, 1×128×784 and
        // 1×128×256 NT 1–3 % faster in all six pairings.
        T* xq = x + q * v, yq = y + q * v;
        for (; q + 4 <= last; q += 4, xq += 4 * v, yq += 4 * v)
        {
            s0 = Lanes512.Fma(Vector512.Load(xq), Vector512.LoadAligned(yq), s0);
            s1 = Lanes512.Fma(Vector512.Load(xq + v), Vector512.LoadAligned(yq + v), s1);
            s2 = Lanes512.Fma(Vector512.Load(xq + 2 * v), Vector512.LoadAligned(yq + 2 * v), s2);
            s3 = Lanes512.Fma(Vector512.Load(xq + 3 * v), Vector512.LoadAligned(yq + 3 * v), s3);
        }
        if (q < last) { s0 = Lanes512.Fma(Vector512.Load(x + q * v), Vector512.LoadAligned(y + q * v), s0); q++; }
        if (q < last) { s1 = Lanes512.Fma(Vector512.Load(x + q * v), Vector512.LoadAligned(y + q * v), s1); q++; }
        if (q < last) { s2 = Lanes512.Fma(Vector512.Load(x + q * v), Vector512.LoadAligned(y + q * v), s2); q++; }
        if (last > 0)
        {
            var tail = Lanes512.TailMask<T>(off + n - last * v);
            Vector512<T> xs = Lanes512.LoadLanes(x + q * v, tail), ys = Lanes512.LoadLanes(y + q * v, tail);
            switch (last & 3)
            {
                case 0: s0 = Lanes512.Fma(xs, ys, s0); break;
                case 1: s1 = Lanes512.Fma(xs, ys, s1); break;
                case 2: s2 = Lanes512.Fma(xs, ys, s2); break;
                default: s3 = Lanes512.Fma(xs, ys, s3); break;
            }
        }
        if (off == 0) return (s0 + s1) + (s2 + s3);
        var own = Vector512.ConditionalSelect(Lanes512.TailMask<T>(off), (s1 + s2) + (s3 + s0), (s0 + s1) + (s2 + s3));
        return Rotate(own, off);
    }

    /// <summary>Lane l of the result is lane (l + by) mod V of v.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Rotate<T>(Vector512<T> v, int by) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Avx512F.PermuteVar16x32(v.AsSingle(), (Vector512<int>.Indices + Vector512.Create(by)) & Vector512.Create(15)).As<float, T>();
        return Avx512F.PermuteVar8x64(v.AsDouble(), (Vector512<long>.Indices + Vector512.Create((long)by)) & Vector512.Create(7L)).As<double, T>();
    }

    /// <summary><see cref="DotVector{T}"/> with 256-bit vectors (aligned to 32 bytes, which never straddle a line).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> DotVector256<T>(T* x, T* y, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int v = Vector256<T>.Count;
        int off = (int)((nint)y & (32 - 1)) / sizeof(T), last = (n + off - 1) / v;
        x -= off;
        y -= off;
        var head = Vector256.AndNot(Lanes256.TailMask<T>(off + n), Lanes256.TailMask<T>(off));
        Vector256<T> s0 = Lanes256.MultiplyAdd(Lanes256.LoadLanes(x, head), Lanes256.LoadLanes(y, head), default), s1 = default, s2 = default, s3 = default;
        nint q = 1;
        if (q < last) { s1 = Lanes256.MultiplyAdd(Vector256.Load(x + q * v), Vector256.LoadAligned(y + q * v), s1); q++; }
        if (q < last) { s2 = Lanes256.MultiplyAdd(Vector256.Load(x + q * v), Vector256.LoadAligned(y + q * v), s2); q++; }
        if (q < last) { s3 = Lanes256.MultiplyAdd(Vector256.Load(x + q * v), Vector256.LoadAligned(y + q * v), s3); q++; }
        for (; q + 4 <= last; q += 4)
        {
            s0 = Lanes256.MultiplyAdd(Vector256.Load(x + q * v), Vector256.LoadAligned(y + q * v), s0);
            s1 = Lanes256.MultiplyAdd(Vector256.Load(x + (q + 1) * v), Vector256.LoadAligned(y + (q + 1) * v), s1);
            s2 = Lanes256.MultiplyAdd(Vector256.Load(x + (q + 2) * v), Vector256.LoadAligned(y + (q + 2) * v), s2);
            s3 = Lanes256.MultiplyAdd(Vector256.Load(x + (q + 3) * v), Vector256.LoadAligned(y + (q + 3) * v), s3);
        }
        if (q < last) { s0 = Lanes256.MultiplyAdd(Vector256.Load(x + q * v), Vector256.LoadAligned(y + q * v), s0); q++; }
        if (q < last) { s1 = Lanes256.MultiplyAdd(Vector256.Load(x + q * v), Vector256.LoadAligned(y + q * v), s1); q++; }
        if (q < last) { s2 = Lanes256.MultiplyAdd(Vector256.Load(x + q * v), Vector256.LoadAligned(y + q * v), s2); q++; }
        if (last > 0)
        {
            var tail = Lanes256.TailMask<T>(off + n - last * v);
            Vector256<T> xs = Lanes256.LoadLanes(x + q * v, tail), ys = Lanes256.LoadLanes(y + q * v, tail);
            switch (last & 3)
            {
                case 0: s0 = Lanes256.MultiplyAdd(xs, ys, s0); break;
                case 1: s1 = Lanes256.MultiplyAdd(xs, ys, s1); break;
                case 2: s2 = Lanes256.MultiplyAdd(xs, ys, s2); break;
                default: s3 = Lanes256.MultiplyAdd(xs, ys, s3); break;
            }
        }
        if (off == 0) return (s0 + s1) + (s2 + s3);
        var own = Vector256.ConditionalSelect(Lanes256.TailMask<T>(off), (s1 + s2) + (s3 + s0), (s0 + s1) + (s2 + s3));
        return Rotate(own, off);
    }

    /// <summary>
    /// <see cref="DotVector256{T}"/> for two rows y and z at once, the same bits as two calls, when they lie at the same
    /// offset within a vector: each load of x serves two FMAs. With one load of x per load of B the loads, not L2, set the
    /// pace (two 256-bit loads a cycle on Zen 3): 1×128×784 on one thread 7.0 → 5.7 µs, the MLP's batch-1 inference
    /// 11.0 → 10.3 µs (in-process A/B, medians). Two rows are two streams, but adjacent ones.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DotVectorPair256<T>(T* x, T* y, T* z, int n, out Vector256<T> ry, out Vector256<T> rz) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int v = Vector256<T>.Count;
        int off = (int)((nint)y & (32 - 1)) / sizeof(T), last = (n + off - 1) / v;
        x -= off;
        y -= off;
        z -= off;
        var head = Vector256.AndNot(Lanes256.TailMask<T>(off + n), Lanes256.TailMask<T>(off));
        var xh = Lanes256.LoadLanes(x, head);
        Vector256<T> s0 = Lanes256.MultiplyAdd(xh, Lanes256.LoadLanes(y, head), default), s1 = default, s2 = default, s3 = default;
        Vector256<T> t0 = Lanes256.MultiplyAdd(xh, Lanes256.LoadLanes(z, head), default), t1 = default, t2 = default, t3 = default;
        nint q = 1;
        Vector256<T> xq;
        if (q < last) { xq = Vector256.Load(x + q * v); s1 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(y + q * v), s1); t1 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(z + q * v), t1); q++; }
        if (q < last) { xq = Vector256.Load(x + q * v); s2 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(y + q * v), s2); t2 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(z + q * v), t2); q++; }
        if (q < last) { xq = Vector256.Load(x + q * v); s3 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(y + q * v), s3); t3 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(z + q * v), t3); q++; }
        for (; q + 4 <= last; q += 4)
        {
            xq = Vector256.Load(x + q * v);
            s0 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(y + q * v), s0);
            t0 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(z + q * v), t0);
            xq = Vector256.Load(x + (q + 1) * v);
            s1 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(y + (q + 1) * v), s1);
            t1 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(z + (q + 1) * v), t1);
            xq = Vector256.Load(x + (q + 2) * v);
            s2 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(y + (q + 2) * v), s2);
            t2 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(z + (q + 2) * v), t2);
            xq = Vector256.Load(x + (q + 3) * v);
            s3 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(y + (q + 3) * v), s3);
            t3 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(z + (q + 3) * v), t3);
        }
        if (q < last) { xq = Vector256.Load(x + q * v); s0 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(y + q * v), s0); t0 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(z + q * v), t0); q++; }
        if (q < last) { xq = Vector256.Load(x + q * v); s1 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(y + q * v), s1); t1 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(z + q * v), t1); q++; }
        if (q < last) { xq = Vector256.Load(x + q * v); s2 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(y + q * v), s2); t2 = Lanes256.MultiplyAdd(xq, Vector256.LoadAligned(z + q * v), t2); q++; }
        if (last > 0)
        {
            var tail = Lanes256.TailMask<T>(off + n - last * v);
            Vector256<T> xs = Lanes256.LoadLanes(x + q * v, tail), ys = Lanes256.LoadLanes(y + q * v, tail), zs = Lanes256.LoadLanes(z + q * v, tail);
            switch (last & 3)
            {
                case 0: s0 = Lanes256.MultiplyAdd(xs, ys, s0); t0 = Lanes256.MultiplyAdd(xs, zs, t0); break;
                case 1: s1 = Lanes256.MultiplyAdd(xs, ys, s1); t1 = Lanes256.MultiplyAdd(xs, zs, t1); break;
                case 2: s2 = Lanes256.MultiplyAdd(xs, ys, s2); t2 = Lanes256.MultiplyAdd(xs, zs, t2); break;
                default: s3 = Lanes256.MultiplyAdd(xs, ys, s3); t3 = Lanes256.MultiplyAdd(xs, zs, t3); break;
            }
        }
        if (off == 0) { ry = (s0 + s1) + (s2 + s3); rz = (t0 + t1) + (t2 + t3); return; }
        var mask = Lanes256.TailMask<T>(off);
        ry = Rotate(Vector256.ConditionalSelect(mask, (s1 + s2) + (s3 + s0), (s0 + s1) + (s2 + s3)), off);
        rz = Rotate(Vector256.ConditionalSelect(mask, (t1 + t2) + (t3 + t0), (t0 + t1) + (t2 + t3)), off);
    }

    /// <summary>Lane l of the result is lane (l + by) mod V of v.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Rotate<T>(Vector256<T> v, int by) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Avx2.PermuteVar8x32(v.AsSingle(), (Vector256<int>.Indices + Vector256.Create(by)) & Vector256.Create(7)).As<float, T>();
        // Doubles move as pairs of floats: float lanes 2l and 2l + 1 take 2s and 2s + 1, s = (l + by) mod 4.
        var pair = Vector256.ShiftRightLogical(Vector256<int>.Indices, 1);
        var index = ((pair + Vector256.Create(by)) & Vector256.Create(3)) * 2 + (Vector256<int>.Indices & Vector256<int>.One);
        return Avx2.PermuteVar8x32(v.AsSingle(), index).As<float, T>();
    }

    /// <summary>
    /// <see cref="SumEach{T}"/> for Vector256&lt;T&gt;.Count 256-bit vectors, by horizontal adds: within each 128-bit
    /// half they add neighbouring lanes of two vectors, so two (double) or three (float) levels leave each half's sums in
    /// order, and one cross-half add finishes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> SumEach256<T>(Vector256<T>* v) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            var f = (Vector256<float>*)v;
            var h0123 = Avx.HorizontalAdd(Avx.HorizontalAdd(f[0], f[1]), Avx.HorizontalAdd(f[2], f[3]));
            var h4567 = Avx.HorizontalAdd(Avx.HorizontalAdd(f[4], f[5]), Avx.HorizontalAdd(f[6], f[7]));
            return (Avx.Permute2x128(h0123, h4567, 0x20) + Avx.Permute2x128(h0123, h4567, 0x31)).As<float, T>();
        }
        var g = (Vector256<double>*)v;
        var h01 = Avx.HorizontalAdd(g[0], g[1]);
        var h23 = Avx.HorizontalAdd(g[2], g[3]);
        return (Avx.Permute2x128(h01, h23, 0x20) + Avx.Permute2x128(h01, h23, 0x31)).As<double, T>();
    }

    /// <summary>
    /// Lane l of the result is the sum of the lanes of v[l], for Vector512&lt;T&gt;.Count vectors (v is overwritten).
    /// Each level adds neighbouring lanes of two vectors into one (even lanes + odd lanes, by two-source permutes),
    /// halving the vectors and keeping their order, until one is left: 4 levels, 15 pairs for float; 3, 7 for double.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> SumEach<T>(Vector512<T>* v) where T : unmanaged
    {
        for (int vectors = Vector512<T>.Count; vectors > 1; vectors /= 2)
        {
            for (int i = 0; i < vectors / 2; i++) v[i] = AddPairs(v[2 * i], v[2 * i + 1]);
        }
        return v[0];
    }

    /// <summary>[a0+a1, a2+a3, …, b0+b1, b2+b3, …]: the sums of neighbouring lanes of a, then of b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> AddPairs<T>(Vector512<T> a, Vector512<T> b) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            var odd = even + Vector512<int>.One;
            return (Avx512F.PermuteVar16x32x2(a.AsSingle(), even, b.AsSingle()) + Avx512F.PermuteVar16x32x2(a.AsSingle(), odd, b.AsSingle())).As<float, T>();
        }
        else
        {
            var even = Vector512.Create(0L, 2, 4, 6, 8, 10, 12, 14);
            var odd = even + Vector512<long>.One;
            return (Avx512F.PermuteVar8x64x2(a.AsDouble(), even, b.AsDouble()) + Avx512F.PermuteVar8x64x2(a.AsDouble(), odd, b.AsDouble())).As<double, T>();
        }
    }

    /// <summary>The product when B rows are contiguous: C row += (alpha·A[i,p])·B row p, on the calling thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowUpdates<T>(Problem<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = p.N;
        for (int r = 0; r < p.M; r++) ScaleRow(p.C.At(r, 0), n, p.Beta);
        int i = 0;
        for (; i + 4 <= p.M; i += 4)
        {
            T* c0 = p.C.At(i, 0), c1 = p.C.At(i + 1, 0), c2 = p.C.At(i + 2, 0), c3 = p.C.At(i + 3, 0);
            for (int d = 0; d < p.K; d++)
            {
                Axpy4(p.B.At(d, 0), n,
                    p.Alpha * *p.A.At(i, d), p.Alpha * *p.A.At(i + 1, d), p.Alpha * *p.A.At(i + 2, d), p.Alpha * *p.A.At(i + 3, d),
                    c0, c1, c2, c3);
            }
        }
        for (; i < p.M; i++)
        {
            // A single row would load and store C once per FMA; taking four B rows per pass cuts that to one
            // load and store per four FMAs (the batch-1 case: 1×784 · 784×256).
            T* ci = p.C.At(i, 0);
            int d = 0;
            for (; d + 4 <= p.K; d += 4)
            {
                AxpyDepth4(p.B.At(d, 0), p.B.Row, n,
                    p.Alpha * *p.A.At(i, d), p.Alpha * *p.A.At(i, d + 1), p.Alpha * *p.A.At(i, d + 2), p.Alpha * *p.A.At(i, d + 3), ci);
            }
            for (; d < p.K; d++) Axpy(p.B.At(d, 0), n, p.Alpha * *p.A.At(i, d), ci);
        }
    }

    /// <summary>alpha·sum + beta·c (fused, as the vector paths do), not reading c when beta is 0 (C may hold NaN garbage then).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Combine<T>(T sum, T alpha, T beta, T c) where T : unmanaged, IFloatingPointIeee754<T>
        => beta == T.Zero ? alpha * sum : T.FusedMultiplyAdd(beta, c, alpha * sum);

    /// <summary>row = beta·row, writing zeros without reading when beta is 0.</summary>
    private static void ScaleRow<T>(T* row, int n, T beta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (beta == T.Zero) new Span<T>(row, n).Clear();
        else if (beta != T.One) ScaleRow(new Span<T>(row, n), beta);
    }

    /// <summary>y[0..n] += a·x[0..n].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy<T>(T* x, int n, T a, T* y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var va = new Vector<T>(a);
            for (; j <= n - Vector<T>.Count; j += Vector<T>.Count)
                Vector.Store(Fma(va, Vector.Load(x + j), Vector.Load(y + j)), y + j);
        }
        for (; j < n; j++) y[j] += a * x[j];
    }

    /// <summary>y_r[0..n] += a_r·x[0..n] for four rows at once, loading x once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy4<T>(T* x, int n, T a0, T a1, T a2, T a3, T* y0, T* y1, T* y2, T* y3) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<T> v0 = new(a0), v1 = new(a1), v2 = new(a2), v3 = new(a3);
            for (; j <= n - Vector<T>.Count; j += Vector<T>.Count)
            {
                var xj = Vector.Load(x + j);
                Vector.Store(Fma(v0, xj, Vector.Load(y0 + j)), y0 + j);
                Vector.Store(Fma(v1, xj, Vector.Load(y1 + j)), y1 + j);
                Vector.Store(Fma(v2, xj, Vector.Load(y2 + j)), y2 + j);
                Vector.Store(Fma(v3, xj, Vector.Load(y3 + j)), y3 + j);
            }
        }
        for (; j < n; j++)
        {
            T xj = x[j];
            y0[j] += a0 * xj;
            y1[j] += a1 * xj;
            y2[j] += a2 * xj;
            y3[j] += a3 * xj;
        }
    }

    /// <summary>y[0..n] += a0·x[0..n] + a1·x[ldx..] + a2·x[2·ldx..] + a3·x[3·ldx..]: four rows of x folded into one pass over y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AxpyDepth4<T>(T* x, nint ldx, int n, T a0, T a1, T a2, T a3, T* y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* x1 = x + ldx, x2 = x + 2 * ldx, x3 = x + 3 * ldx;
        int j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<T> v0 = new(a0), v1 = new(a1), v2 = new(a2), v3 = new(a3);
            for (; j <= n - Vector<T>.Count; j += Vector<T>.Count)
            {
                var acc = Fma(v0, Vector.Load(x + j), Vector.Load(y + j));
                acc = Fma(v1, Vector.Load(x1 + j), acc);
                acc = Fma(v2, Vector.Load(x2 + j), acc);
                Vector.Store(Fma(v3, Vector.Load(x3 + j), acc), y + j);
            }
        }
        for (; j < n; j++) y[j] += a0 * x[j] + a1 * x1[j] + a2 * x2[j] + a3 * x3[j];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> Fma<T>(Vector<T> x, Vector<T> y, Vector<T> acc) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Vector.MultiplyAddEstimate(x.As<T, float>(), y.As<T, float>(), acc.As<T, float>()).As<float, T>();
        return Vector.MultiplyAddEstimate(x.As<T, double>(), y.As<T, double>(), acc.As<T, double>()).As<double, T>();
    }
}
