using System.Buffers;
using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// General matrix multiply C = alpha·op(A)·op(B) + beta·C on row-major storage, for float and double.
/// </summary>
/// <remarks>
/// <para>
/// Large products use the classic Goto/BLIS scheme. op(B) is packed once per call into column panels
/// NR wide (each k×NR panel stored row by row, so one k step of the micro-kernel reads NR contiguous values),
/// and blocks of op(A) are packed per thread into row panels MR tall (each stored k-major, so one k step reads
/// MR contiguous values to broadcast). The micro-kernel keeps an MR×NR tile of C in registers and runs a
/// rank-1 update per k. Transposed operands are handled by the packing routines reading with swapped strides,
/// so no layout ever costs an extra copy. With few rows (one row block, e.g. batch 64) B is not packed ahead: the
/// micro-kernel reads untransposed B rows in place (unless their stride crowds them into a few L1 sets), and other B
/// slices are packed one kc×NR slice at a time. Likewise
/// a row-major A of at most 96 rows per thread, or of one row block, is read in place, and by the AVX-512 kernel any
/// row-major float A (<see cref="UnpackedA{T, TKernel}"/>).
/// </para>
/// <para>
/// Blocking (sizes in elements; float numbers in brackets for the AVX-512 kernel, double is the same count at twice
/// the bytes): the depth is cut into blocks of kc ≤ KcBytes/sizeof(T) [512]; the A block, mc×kc with
/// mc ≤ <see cref="MC"/> [288×512×4 B = 576 KB], stays in the 1 MB L2 while every B micro-panel, kc×NR
/// [512×32×4 B = 64 KB], streams past it, each B micro-panel being reused by mc/MR = 36 micro-kernel calls
/// from L1/L2; the A micro-panel, kc×MR [16 KB], stays in L1 for one call. The whole packed B, k×nc
/// [at most <see cref="PackedBLimit"/> elements: 8 MB], lives in L3. Measured on Zen 5 (48 KB L1, 1 MB L2):
/// kc = 512, mc = 288 beat kc = 256, mc = 144 by ~15% with two threads and ~3% with one, even though the
/// B micro-panel then exceeds L1: L2 bandwidth is ample for one 128-byte B row per 16 FMAs, and fewer depth
/// blocks mean fewer passes of C through the cache. The AVX2 kernel's depth blocks are half as deep, for CPUs with a
/// 32 KB L1 (see <see cref="Vector256Kernel{T}"/>), except in products of several row blocks and some with B transposed
/// (see <see cref="DeepBlocks{T}"/>).
/// </para>
/// <para>
/// Threads share the packed B (packed in parallel, one pass) and split C into blocks of rows, or of columns when
/// there are too few rows to go round; each thread packs only the A rows it needs, so nothing is packed twice.
/// </para>
/// <para>
/// Small products (too little work to repay packing, or m ≤ 4, e.g. batch-1 inference) take the direct path
/// (Gemm.Direct.cs): row updates (C row += a·B row) on the calling thread when B rows are contiguous, dot products
/// when op(B) is transposed, split over the threads by columns when B is large. A B that one-row products read again
/// unchanged (a weight, in batch-1 inference) is better packed once into column panels and kept (Gemm.Panels.cs,
/// <see cref="PackedB{T}"/>); the backend keeps that copy with the weight's storage (<see cref="WeightPanels"/>).
/// </para>
/// <para>
/// Micro-kernel choice is fixed when the JIT compiles: Vector512 (8×32 floats, 16 zmm registers hold C)
/// when Vector512 is accelerated, else Vector256 (6×16 floats, 12 of 16 ymm registers), else the direct path,
/// which uses Vector&lt;T&gt; and falls back to scalar code when no SIMD is accelerated.
/// </para>
/// </remarks>
internal static unsafe partial class Gemm
{
    /// <summary>
    /// Largest depth block of any kernel, in bytes of one packed row of depth (<see cref="IMicroKernel{T}.KcBytes"/>):
    /// the per-thread buffers are reserved for it.
    /// </summary>
    private const int MaxKcBytes = 2048;

    /// <summary>Largest row block of A packed at once (a multiple of both kernels' MR): mc×kc must stay in L2.</summary>
    private const int MC = 288;

    /// <summary>Most elements of B packed at once (k×nc); wider B is done in several column blocks.</summary>
    private const int PackedBLimit = 1 << 21;

    /// <summary>Below this many multiply-adds (m·n·k) packing costs more than it saves.</summary>
    private const long DirectWorkLimit = 4 * 1024;

    /// <summary>
    /// Below this many multiply-adds (≈ 64³, 3 µs on one core) a second thread costs more than it saves: besides the
    /// dispatch (≈ 0.2–0.8 µs) the helper starts with cold caches and must pull the packed B from the other core. It
    /// was 2²⁰ (≈ 100³) until measured at batch 1 on Zen 3: LeNet's conv1 (32×784×25, 627 K) then ran on one thread,
    /// and two made the whole inference 274 → 260 µs (in-process A/B, medians); 2¹⁷ was no better than 2¹⁸.
    /// </summary>
    private const long ParallelWorkLimit = 1 << 18;

    /// <summary>
    /// C = alpha·op(A)·op(B) + beta·C, row-major. op(A) is m×k: element (i,p) is a[aOffset + i*lda + p], or a[aOffset + p*lda + i] when transA.
    /// op(B) is k×n: element (p,j) is b[bOffset + p*ldb + j], or b[bOffset + j*ldb + p] when transB. C element (i,j) is c[cOffset + i*ldc + j].
    /// beta == 0 means C is overwritten (never read, so NaN garbage in C does not leak); alpha == 0 or k == 0 means C = beta·C
    /// without reading A or B. C must not overlap A or B. At most <paramref name="threads"/> threads are used.
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha, float[] a, int aOffset, int lda, float[] b, int bOffset, int ldb, float beta, float[] c, int cOffset, int ldc, int threads)
        => Run(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc, threads);

    /// <inheritdoc cref="Multiply(bool, bool, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, int, int)"/>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, double alpha, double[] a, int aOffset, int lda, double[] b, int bOffset, int ldb, double beta, double[] c, int cOffset, int ldc, int threads)
        => Run(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc, threads);

    /// <summary>
    /// C = alpha·op(A)·op(B) + bias, the row vector bias[biasOffset..+n] added to every row of C (PyTorch's addmm with a
    /// broadcast bias: a Linear layer). Operands as in <see cref="Multiply(bool, bool, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, int, int)"/>
    /// with beta = 0: C is not read.
    /// </summary>
    /// <remarks>
    /// The packed path writes the bias into each C tile just before the tile's first micro-kernel call, which then adds
    /// onto it (beta = 1), instead of a pass that copies the bias over all of C beforehand: that pass wrote C once more,
    /// split over the threads by rows where the product splits by columns, so half of what each core then read had
    /// been written by the other. The sums are those
    /// of copying first (bias + product, rounded once), so the bits do not change. Zen 3, in-process A/B, two runs: the
    /// MLP's batch-256 inference 741 → 729 and 739 → 727 µs, its training step (batch 64) 539 → 533 and 534 → 529 µs
    /// (medians).
    /// <para>
    /// With <c>relu</c>, C = max(alpha·op(A)·op(B) + bias, 0) (a Linear layer and the ReLU after it, in inference): each
    /// tile is rectified once its last depth block is in, while it is still in L1, rather than by a pass over C
    /// afterwards. The values are those of the two steps (max is exact), NaN included. Zen 3, in-process A/B: the MLP's
    /// batch-256 inference 699 → 691 and 699 → 692 µs, at batch 1 9.7 → 9.0 and 9.8 → 9.1 µs (medians; there the saving
    /// is mostly the ReLU ops themselves).
    /// </para>
    /// </remarks>
    public static void Multiply<T>(bool transA, bool transB, int m, int n, int k, T alpha, T[] a, int aOffset, int lda, T[] b, int bOffset, int ldb, T[] bias, int biasOffset, T[] c, int cOffset, int ldc, int threads,
        bool relu = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(bias);
        CheckExtent(bias.Length, biasOffset, 1, n, n, nameof(bias));
        Run(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, T.Zero, c, cOffset, ldc, threads, bias, biasOffset, relu);
    }

    private static void Run<T>(bool transA, bool transB, int m, int n, int k, T alpha, T[] a, int aOffset, int lda, T[] b, int bOffset, int ldb, T beta, T[] c, int cOffset, int ldc, int threads,
        T[]? bias = null, int biasOffset = 0, bool relu = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(c);
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        // The kernels index with raw pointers, so every element they may touch is bounds-checked here, once.
        CheckExtent(a.Length, aOffset, transA ? k : m, transA ? m : k, lda, nameof(a));
        CheckExtent(b.Length, bOffset, transB ? n : k, transB ? k : n, ldb, nameof(b));
        CheckExtent(c.Length, cOffset, m, n, ldc, nameof(c));
        if (m == 0 || n == 0) return;
        threads = Math.Max(1, threads);

        fixed (T* pa = a, pb = b, pc = c, pbias = bias)
        {
            // Element (r, s) of op(X) is at base + r*Row + s*Col; transposition just swaps the strides.
            var am = transA ? new Matrix<T>(pa + aOffset, 1, lda) : new Matrix<T>(pa + aOffset, lda, 1);
            var bm = transB ? new Matrix<T>(pb + bOffset, 1, ldb) : new Matrix<T>(pb + bOffset, ldb, 1);
            var cm = new Matrix<T>(pc + cOffset, ldc, 1);
            T* rowBias = bias is null ? null : pbias + biasOffset;
            bool work = k != 0 && alpha != T.Zero, packs = work && Packs(m, n, k);
            // The packed path and the dot products add the bias and rectify as each result is made (see Fuses).
            bool fused = packs || (work && Fuses(bm));
            if (rowBias != null && !fused)
            {
                // Elsewhere C starts as the bias and the product adds onto it.
                for (int i = 0; i < m; i++) new ReadOnlySpan<T>(rowBias, n).CopyTo(new Span<T>(cm.At(i, 0), n));
                beta = T.One;
                rowBias = null;
            }
            if (!work) ScaleC(cm, m, n, beta);
            else
            {
                var p = new Problem<T>(am, bm, cm, m, n, k, alpha, beta, rowBias, relu && fused);
                if (!packs) Direct(p, threads);
                else if (Vector512.IsHardwareAccelerated) Packed<T, Vector512Kernel<T>>(p, threads, null);
                else Packed<T, Vector256Kernel<T>>(p, threads, null);
            }
            if (relu && !fused) Rectify(cm.Base, ldc, m, n);
        }
    }

    /// <summary>C[0..rows, 0..cols] = max(C, 0) (ReLU, as TensorPrimitives.Max(x, 0): NaN stays NaN).</summary>
    private static void Rectify<T>(T* c, nint ldc, int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            T* row = c + r * ldc;
            int j = 0;
            for (; j + Vector256<T>.Count <= cols; j += Vector256<T>.Count)
                Vector256.Max(Vector256.Load(row + j), Vector256<T>.Zero).Store(row + j);
            for (; j < cols; j++) row[j] = T.Max(row[j], T.Zero);
        }
    }

    /// <summary>
    /// Whether an m×n×k product takes the packed path: it needs a SIMD micro-kernel, more than 4 rows and enough work
    /// to repay the packing (<see cref="DirectWorkLimit"/>); otherwise the direct path.
    /// </summary>
    private static bool Packs(int m, int n, int k)
        => m > 4 && (long)m * n * k >= DirectWorkLimit && (Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated);

    private static void CheckExtent(int length, int offset, int rows, int cols, int ld, string name)
    {
        if (rows == 0 || cols == 0) return;
        if (offset < 0 || ld < 0 || (rows > 1 && ld < cols) || offset + (long)(rows - 1) * ld + cols > length)
            throw new ArgumentException($"Matrix '{name}' of {rows}×{cols} with offset {offset} and leading dimension {ld} does not fit in an array of {length}.", name);
    }

    /// <summary>A strided view of a pinned matrix: element (r, s) is at Base[r*Row + s*Col].</summary>
    private readonly struct Matrix<T>(T* @base, nint row, nint col) where T : unmanaged
    {
        public readonly T* Base = @base;
        public readonly nint Row = row;
        public readonly nint Col = col;

        public T* At(nint r, nint s) => Base + r * Row + s * Col;
    }

    /// <summary>
    /// The operands of one call, already pinned: C (m×n) = alpha·A (m×k)·B (k×n) + beta·C, plus the row vector
    /// <paramref name="bias"/> (n values) on every row when not null (the packed path only, with beta = 0).
    /// </summary>
    private readonly struct Problem<T>(Matrix<T> a, Matrix<T> b, Matrix<T> c, int m, int n, int k, T alpha, T beta, T* bias = null, bool relu = false)
        where T : unmanaged
    {
        public readonly Matrix<T> A = a, B = b, C = c;
        public readonly int M = m, N = n, K = k;
        public readonly T Alpha = alpha, Beta = beta;
        public readonly T* Bias = bias;

        /// <summary>Whether each result is rectified (max with 0) as it is made: the packed path and the dot products only.</summary>
        public readonly bool Relu = relu;
    }

    /// <summary>C = beta·C, writing zeros without reading when beta is 0.</summary>
    private static void ScaleC<T>(Matrix<T> c, int m, int n, T beta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (beta == T.One) return;
        for (int i = 0; i < m; i++) ScaleRow(c.At(i, 0), n, beta);
    }

    private static void ScaleRow<T>(Span<T> row, T beta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vb = new Vector<T>(beta);
            for (; j <= row.Length - Vector<T>.Count; j += Vector<T>.Count)
            {
                var s = row.Slice(j, Vector<T>.Count);
                (vb * new Vector<T>(s)).CopyTo(s);
            }
        }
        for (; j < row.Length; j++) row[j] *= beta;
    }

    // ---------------------------------------------------------------- packed path

    /// <summary>A register-tile kernel: C[0..MR, 0..NR] = alpha·(packed A panel)·(packed B panel) + beta·C.</summary>
    private interface IMicroKernel<T> where T : unmanaged
    {
        /// <summary>Rows of the C tile, = height of a packed A panel.</summary>
        static abstract int MR { get; }

        /// <summary>Columns of the C tile, = width of a packed B panel.</summary>
        static abstract int NR { get; }

        /// <summary>Largest depth block, in bytes of one packed row of depth (at most <see cref="MaxKcBytes"/>).</summary>
        static abstract int KcBytes { get; }

        /// <summary>
        /// Multiplies the kc×MR (k-major) A panel at <paramref name="a"/> by the kc×NR B panel at <paramref name="b"/>
        /// (rows <paramref name="ldb"/> apart: NR when packed) into the MR×NR tile at <paramref name="c"/> with row
        /// stride <paramref name="ldc"/>; C is not read when beta is 0.
        /// </summary>
        static abstract void Run(nint kc, T* a, T* b, nint ldb, T* c, nint ldc, T alpha, T beta);

        /// <summary><see cref="Run"/> with MR rows of a row-major A read in place, <paramref name="lda"/> apart, each contiguous over the depth.</summary>
        static abstract void RunRowMajorA(nint kc, T* a, nint lda, T* b, nint ldb, T* c, nint ldc, T alpha, T beta);
    }

    /// <summary>
    /// The packed path. <paramref name="prepackedA"/>, when not null, holds all of op(A) already packed in depth blocks
    /// of <paramref name="prepackedKc"/> by <see cref="PackWholeA{T, TKernel}(Matrix{T}, int, int, T*, int, int)"/>
    /// (see <see cref="SharedA{T}"/>), and A is not read.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Packed<T, TKernel>(Problem<T> p, int threads, T* prepackedA, int prepackedKc = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IMicroKernel<T>
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        // Column blocks of B, each packed whole: k×nc ≤ PackedBLimit.
        int ncMax = Math.Max(nr, PackedBLimit / p.K / nr * nr);
        int nc = RoundUp(CeilDiv(p.N, CeilDiv(p.N, ncMax)), nr);
        T* packedB = Scratch<T>.B(p.K * nc);

        int mPanels = CeilDiv(p.M, mr);
        int mBlocks = CeilDiv(mPanels, MC / mr);
        bool parallel = threads > 1 && (long)p.M * p.N * p.K >= ParallelWorkLimit;
        // One column panel (N ≤ NR: a classifier's last layer) leaves a column split nothing to share out: the rows are
        // split instead. Zen 3, 256×10×128 NT (the MLP's last layer at batch 256): 16.8 → 9.6 µs; 64×10×3136 NT 121 → 86 µs.
        // With fewer row blocks than threads and more columns, the columns are split: each thread then packs its own B
        // slices, where a split of the rows would first pack B whole, shared, and wait for it. The AVX2 kernel used to
        // split the rows of such products, because a column split then read every B slice in place, crowded or not;
        // with crowded slices packed per thread (ReadsBInPlace) the column split is faster, for crowded strides and for
        // the others alike. Zen 3, in-process A/B, two threads: 128×256×784 NN 365 → 324 µs, 256³ NN 207 → 196,
        // 128×784×256 NN 342 → 313, 128×196×800 NN 296 → 280, 128×3136×64 TN 361 → 340.
        bool splitRows = parallel && (mBlocks >= threads || (p.N <= nr && mPanels >= threads) || RowsStayInCache(p, mPanels, threads));
        // The depth blocks fix the order of the sums, so they depend on the shape alone: any thread count, and A packed
        // ahead or not, gives the same bits (an A packed ahead by Gemm.Share comes with the kernel's own depth).
        int kc = prepackedA != null ? prepackedKc : DepthBlock<T, TKernel>(p.K, DeepBlocks(p, mPanels, mBlocks));
        if (prepackedA == null && parallel && !splitRows && p.N > nr && mPanels >= 8 * threads && !UnpackedA<T, TKernel>(p, p.M))
        {
            // Columns split over the threads, with many rows that the tasks cannot read in place (see UnpackedA): every
            // task would pack all of A for itself. It is packed once instead, shared out over the threads, as Gemm.Share
            // does for a run of products. Zen 3, in-process A/B, two runs: 256×256×784 NT (a Linear layer at batch 256)
            // +2–3 %, the MLP's batch-256 inference +2 %, when the AVX2 kernel still packed such rows.
            T[] whole = ArrayPool<T>.Shared.Rent(mPanels * mr * p.K);
            try
            {
                fixed (T* w = whole)
                {
                    PackWholeA<T, TKernel>(p.A, p.M, p.K, w, threads, kc);
                    Packed<T, TKernel>(p, threads, w, kc);
                }
            }
            finally
            {
                ArrayPool<T>.Shared.Return(whole);
            }
            return;
        }
        // Split C into row blocks × column blocks. Rows first: each row block packs its own A rows. With fewer row
        // blocks than threads, also split columns, which repacks A once per column block (cheap when there are so few
        // rows; with many, A was packed once beforehand, above).
        int rowBlocks = splitRows ? Math.Min(mPanels, RoundUp(Math.Max(mBlocks, threads), threads)) : mBlocks;
        // When several row blocks read the same B panels they are packed first, whole and shared out over the threads;
        // with a single row block (few rows: batch 64) each task reads its B slices in place or packs them one kc×NR
        // slice at a time just before the micro-kernels use them (see PackedBlock).
        bool sharedB = rowBlocks > 1;
        for (int jc = 0; jc < p.N; jc += nc)
        {
            int ncur = Math.Min(nc, p.N - jc);
            int nPanels = CeilDiv(ncur, nr);
            int colBlocks = !splitRows && parallel ? Math.Min(nPanels, CeilDiv(threads, rowBlocks)) : 1;

            // B[0..k, jc..jc+ncur] is packed as nPanels panels of k×NR; panel s starts at packedB + s·k·NR.
            var bBase = (nint)packedB;
            if (sharedB)
            {
                int packTasks = parallel ? Math.Min(threads, nPanels) : 1;
                CpuParallel.For(packTasks, packTasks, t => PackB(p, (T*)bBase, nr, jc, t * nPanels / packTasks, (t + 1) * nPanels / packTasks));
            }
            int tasks = rowBlocks * colBlocks;
            var aBase = (nint)prepackedA;
            CpuParallel.For(tasks, parallel ? threads : 1, t =>
            {
                int rb = t / colBlocks, cb = t % colBlocks;
                int i0 = rb * mPanels / rowBlocks * mr, i1 = Math.Min(p.M, (rb + 1) * mPanels / rowBlocks * mr);
                // Column blocks rounded so that the first ones are the larger: the calling thread, already running,
                // usually claims task 0, while a helper starts late and pulls its B from the caller's cache. Zen 3,
                // in-process A/B, two runs: LeNet batch-1 inference 249 → 244 µs, 64×784×256 NN +3 %, 64×196×800 NN +2 %.
                int s0 = (cb * nPanels + colBlocks - 1) / colBlocks, s1 = ((cb + 1) * nPanels + colBlocks - 1) / colBlocks;
                PackedBlock<T, TKernel>(p, sharedB ? (T*)bBase : null, (T*)aBase, kc, i0, i1, jc, s0, s1);
            });
        }
    }

    /// <summary>
    /// Whether a product of one row block with a transposed A splits its rows rather than its columns over the threads,
    /// so that each core ends up holding whole rows of C in its L2: C = ȳᵀ·x is a Linear layer's weight gradient, and
    /// the optimizer's pass over it (<c>Optim.FusedLoop</c>) gives each thread a contiguous run of rows, which it then
    /// reads from its own cache rather than half of each row from the other core's. Only while each thread's share of C
    /// fits in an L2 (<see cref="ResultShareBytes"/>); with a transposed A each task packs only its own rows, and B is
    /// packed once, shared. Zen 3, in-process A/B, two threads, the MLP's training step (batch 64, SGD with momentum:
    /// 256×784×64 and 128×256×64 TN), nine runs: −3 to −8 µs in seven, 0 in one (medians ≈ 505–530 µs); the products
    /// alone 1–5 % slower (256×784×64 158.8 → 160.6 µs, 128×256×64 28.1 → 29.7), which the step more than recovers.
    /// LeNet's fc1 gradient (128×3136×64, 1.6 MB) is larger than the two L2s and keeps the column split (alone 2 % faster).
    /// </summary>
    private static bool RowsStayInCache<T>(Problem<T> p, int mPanels, int threads) where T : unmanaged
        => p.A.Row == 1 && mPanels >= 8 * threads && (long)p.M * p.N * sizeof(T) <= (long)threads * ResultShareBytes;

    /// <summary>Most of C, per thread, that <see cref="RowsStayInCache{T}"/> expects one core's L2 to keep: Zen 3's 512 KB.</summary>
    private const long ResultShareBytes = 512 * 1024;

    /// <summary>
    /// Whether a task that packs no B ahead reads its kc×NR slices of B where they lie (rows contiguous) instead of
    /// packing each slice just before use. In place saves the copy, but a slice's rows, ldb apart, land in only
    /// 4096 / gcd(ldb bytes, 4096) of the L1's 64 sets (a set per 64-byte line, a way of 4 KB, on current x86 cores),
    /// and when its kc rows (one line each for the AVX2 kernel) need far more lines than those sets hold, the slice is
    /// evicted before the next row panel reads it again. A packed slice is worth its copy only if enough row panels
    /// reuse it. Zen 3 (32 KB, 8 ways), in-process A/B, two threads (one alike): 64×256×784 NN (ldb 256 floats: 4 sets,
    /// 196 rows) 186 → 167 µs, 64×1024×1024 NN (1 set) 1290 → 900 µs, 64×256×128 NN 28.3 → 26.8 µs; ldb 800 (32 sets,
    /// 196 rows) was 4 % faster in place; ldb 3136 (16 sets, 128 rows: LeNet's fc1) 3 % faster packed alone but 0.3 %
    /// slower in LeNet's training step, hence the margin of twice the sets' lines; below 6 row panels (30 rows of
    /// 64×256×784: even; 12 rows: 34 → 46 µs packed) in place always wins. The AVX-512 kernel keeps reading in place:
    /// the same rule applied to it on Zen 5 (48 KB, 12 ways; in-process A/B, two threads) helped only B rows 4 KB apart
    /// (64×1024×1024 NN 0.90 of the time) and hurt the others measured (the MLP's 64×256×128 NN 1.03 and 128×256×784 NN
    /// 1.06, 64×128×3136 NN 1.17; 64×784×256, 64×196×800 and 128×784×256 NN unchanged).
    /// </summary>
    private static bool ReadsBInPlace<T, TKernel>(Problem<T> p, int rows, int kc)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IMicroKernel<T>
    {
        if (p.B.Col != 1) return false;
        if (typeof(TKernel) != typeof(Vector256Kernel<T>) || rows < 6 * TKernel.MR) return true;
        // gcd(stride, 4096) is the stride's lowest set bit, at most 4096; a stride under a line still spreads over every set.
        long stride = p.B.Row * sizeof(T);
        long alignment = stride == 0 ? 4096 : Math.Min(stride & -stride, 4096);
        long sets = 4096 / Math.Max(64, alignment);
        return kc <= 2 * 8 * sets;
    }

    /// <summary>
    /// Whether the micro-kernel reads A's rows where they lie instead of packing them: A row-major (each row contiguous
    /// over the depth, as the kernel's six or eight broadcasts can read it), and at most <see cref="UnpackedARows"/>
    /// rows for this task or a product of one row block (m ≤ <see cref="MC"/>). Packing such an A is a transpose (6×8
    /// blocks for the AVX2 kernel, 8×8 for the AVX-512 one) repeated by every task that shares the rows, for little
    /// reuse. Zen 3, in-process A/B: 64×256×784 NT (the MLP's first layer at batch 64) +3.5–4 %, 64×128×256 NT +5 %,
    /// 128×256×784 NN (rows split, 64 per thread) +1.4–3 %, 64×256×128 NN +2.5 %, the MLP's training step −1 %, LeNet's
    /// 26.0 → 25.0 ms (−3.8 %; its convolutions' weights are the A of their products). One row block of more rows, in
    /// place instead of packed whole beforehand (two threads splitting the columns) or block by block (rows split, or
    /// one thread): 256×256×784 NT 602 → 577 µs, 128×256×784 NN 329 → 315, 256³ 200 → 191, 288×256×784 NT 663 → 650,
    /// 128×784×256 NT 306 → 301, 256×10×128 NT 10.3 → 8.6 µs; the MLP's batch-256 inference 731 → 692 and 726 → 691 µs,
    /// its training step and LeNet's unchanged; one thread −0.7 % to +1.3 % (256×10×128: +30 %). Several row blocks
    /// keep packing theirs, reused over all of B's columns: 1024³ and 2048³ were 5 % slower in place.
    /// <para>
    /// The AVX-512 kernel (8 rows) packed every A until measured on Zen 5, in-process A/B, two threads: 64×256×784 NT
    /// (the MLP's first layer at batch 64) 0.89–0.92 of the time packed, 64×128×256 NT 0.83, 64×256×128 NN 0.87,
    /// 128×256×784 NN 0.71–0.75, 256×256×784 NT 0.71, 256³ 0.66–0.70, 256×10×128 NT 0.74, 64×128×3136 NT 0.83,
    /// 288×256×784 NT 0.93; one thread 0.95–1.0; 1024³ (several row blocks, still packed) unchanged. The MLP's training
    /// step (batch 64) 221 → 212 µs; LeNet's unchanged (its convolutions' weights come packed once, by Gemm.Share).
    /// </para>
    /// <para>
    /// With float, the AVX-512 kernel reads a row-major A in place at any size, several row blocks included. Zen 5,
    /// in-process A/B against packing them: two threads, 512³ 0.97 of the time, 1024³ 0.98–0.99, 2048³ 0.99, 1024³ NT
    /// 0.99, 600³ 0.99, 1000×784×256 NT 0.97; one thread 0.965–0.98. With double (each cache line of A holds half as many
    /// depth steps) it was mixed, 1024³ 1.02 and 1000×784×256 NT 0.98, and several row blocks are still packed.
    /// </para>
    /// </summary>
    private static bool UnpackedA<T, TKernel>(Problem<T> p, int rows)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IMicroKernel<T>
        => p.A.Col == 1 && (rows <= UnpackedARows || p.M <= MC || (typeof(TKernel) == typeof(Vector512Kernel<T>) && sizeof(T) == 4));

    /// <summary>Most rows of A one task reads in place (see <see cref="UnpackedA{T, TKernel}"/>): 16 row panels.</summary>
    private const int UnpackedARows = 96;

    /// <summary>Least depth of B packed row by row (see <see cref="PackB{T}"/>); measured better at k = 784 and 1024, worse at 64.</summary>
    private const int RowWisePackDepth = 256;

    /// <summary>How many rows ahead <see cref="PackB{T}"/> prefetches the B rows it packs row by row.</summary>
    private const int PackBPrefetchRows = 4;

    /// <summary>Packs the B panels s0..s1 of the column block starting at column jc, each over the whole depth.</summary>
    /// <remarks>
    /// When B's rows are contiguous and many, the whole panels are packed row by row across all of them: each row of B is
    /// then read front to back, rather than NR values from every row for one panel, then the next NR from every row, which
    /// touches a new page on every read (rows of a large B are kilobytes apart) and leaves the prefetchers nothing to
    /// follow. Zen 3, in-process A/B: 1024³ NN +2–3 % (one thread) and +1–2 % (two), 2048³ +2 %, 128×256×784 +2 %. With a
    /// shallow B (an MLP's weight gradient, k = 64: 200 KB, all in L2) panel by panel was 2–4 % faster, its writes one
    /// stream instead of one per panel: see <see cref="RowWisePackDepth"/>.
    /// <para>
    /// Each row's stretch is requested <see cref="PackBPrefetchRows"/> rows ahead. A thread reads only its share of a
    /// row (a large B's rows are kilobytes apart), so every row starts on a page the hardware prefetchers have not seen,
    /// and the copy waited on memory: it ran at ≈ 25 GB/s, against ≈ 57 GB/s for a plain copy on one core. Zen 5,
    /// in-process A/B, two threads: 2048³ 0.98–0.99 of the time (the copy's share of the samples 3.7 → 1.9 %), 1024³
    /// 0.96–0.98; 512³ and smaller unchanged; one thread 0.99–1.0. Prefetched 2, 3, 6 or 8 rows ahead, or into the L2
    /// only, was no better than 4; copying with 512-bit vectors instead of 256-bit ones changed nothing. Not measured
    /// with the AVX2 kernel (Zen 3), which packs B the same way.
    /// </para>
    /// </remarks>
    private static void PackB<T>(Problem<T> p, T* packedB, int nr, int jc, int s0, int s1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (p.B.Col == 1 && p.K >= RowWisePackDepth && nr % Vector256<T>.Count == 0)
        {
            int v = Vector256<T>.Count;
            int full = Math.Clamp((p.N - jc) / nr, s0, s1);   // panels with all NR columns inside B
            int stretchBytes = (full - s0) * nr * sizeof(T);
            for (int d = 0; d < p.K; d++)
            {
                T* row = p.B.At(d, jc);
                if (Sse.IsSupported && d + PackBPrefetchRows < p.K)
                {
                    // This thread's stretch of the row PackBPrefetchRows ahead, line by line: see the remarks.
                    byte* ahead = (byte*)p.B.At(d + PackBPrefetchRows, jc + s0 * nr);
                    for (int o = 0; o < stretchBytes; o += 64) Sse.Prefetch0(ahead + o);
                }
                for (int s = s0; s < full; s++)
                {
                    T* from = row + s * nr, to = packedB + (nint)s * p.K * nr + (nint)d * nr;
                    for (int l = 0; l < nr; l += v) Vector256.Store(Vector256.Load(from + l), to + l);
                }
            }
            s0 = full;
        }
        for (int s = s0; s < s1; s++)
        {
            int j = jc + s * nr;
            PackPanel(p.B.At(0, j), p.B.Col, p.B.Row, Math.Min(nr, p.N - j), nr, p.K, packedB + (nint)s * p.K * nr);
        }
    }

    /// <summary>
    /// Computes C[i0..i1, jc+s0·NR .. jc+s1·NR) from the B panels s0..s1 of the current column block, packing A for
    /// rows i0..i1 in MC×kc blocks into this thread's buffer. B comes packed in <paramref name="packedB"/>; when that
    /// is null (a single row block, so each B slice serves one A block only) a whole-width slice whose rows are
    /// contiguous is read in place unless its stride crowds it into a few L1 sets (<see cref="ReadsBInPlace{T, TKernel}"/>),
    /// and any other slice is packed here, one kc×NR slice at a time into a buffer that stays in L1/L2 while the A panels
    /// pass over it. Measured on Zen 5 (48 KB L1) on 64×784·784×256 (the MLP's batch-64 shapes): packing all of B first
    /// (800 KB, more than the L2 holds next to B itself) took ≈ 28 % of one thread's time; slice by slice made the
    /// product ≈ 4 % faster, and reading B in place (no transposed operand) ≈ 10 % faster again.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackedBlock<T, TKernel>(Problem<T> p, T* packedB, T* prepackedA, int kc, int i0, int i1, int jc, int s0, int s1)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IMicroKernel<T>
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        T* packedA = prepackedA == null ? Scratch<T>.A(MC * kc) : null;
        bool unpackedA = prepackedA == null && UnpackedA<T, TKernel>(p, i1 - i0);
        nint mPadded = RoundUp(p.M, mr);
        T* slice = packedB == null ? Scratch<T>.Slice(kc * nr) : null;
        // Edge tiles (fewer than MR rows or NR columns left) are computed into this buffer, then added to C.
        T* edge = stackalloc T[mr * nr];
        for (int pc = 0; pc < p.K; pc += kc)
        {
            int kcur = Math.Min(kc, p.K - pc);
            // Later depth blocks accumulate onto the partial sums of the earlier ones; the first starts from the bias, if any.
            T beta = pc == 0 ? p.Beta : T.One;
            T* bias = pc == 0 ? p.Bias : null;
            bool rectify = p.Relu && pc + kcur == p.K;
            bool inPlaceB = packedB == null && ReadsBInPlace<T, TKernel>(p, i1 - i0, kcur);
            for (int ic = i0; ic < i1; ic += MC)
            {
                int mcur = Math.Min(MC, i1 - ic);
                // This block's A panels: in the whole packed A, depth block pc holds mPadded rows of kcur values.
                T* aBlock = prepackedA != null ? prepackedA + pc * mPadded + (nint)ic * kcur : packedA;
                if (prepackedA == null)
                {
                    // Read in place, only a ragged last panel is packed (the kernel reads MR rows).
                    for (int ir = unpackedA ? mcur - mcur % mr : 0; ir < mcur; ir += mr)
                        PackPanel(p.A.At(ic + ir, pc), p.A.Row, p.A.Col, Math.Min(mr, mcur - ir), mr, kcur, packedA + (nint)ir * kcur);
                }

                for (int s = s0; s < s1; s++)
                {
                    int j = jc + s * nr;
                    int cols = Math.Min(nr, p.N - j);
                    T* bPanel = slice;
                    nint ldb = nr;
                    if (packedB != null) bPanel = packedB + (nint)s * p.K * nr + (nint)pc * nr;
                    else if (cols == nr && inPlaceB)
                    {
                        // Rows of B already hold NR contiguous values: the micro-kernel reads them where they are.
                        bPanel = p.B.At(pc, j);
                        ldb = p.B.Row;
                    }
                    else PackPanel(p.B.At(pc, j), p.B.Col, p.B.Row, cols, nr, kcur, slice);
                    for (int ir = 0; ir < mcur; ir += mr)
                    {
                        int rows = Math.Min(mr, mcur - ir);
                        T* aPanel = aBlock + (nint)ir * kcur;
                        T* cTile = p.C.At(ic + ir, j);
                        // The AVX2 kernel has 2- and 4-row forms for a ragged last panel (see ShortRows).
                        int kernelRows = rows < mr && typeof(TKernel) == typeof(Vector256Kernel<T>) ? ShortRows(rows) : mr;
                        // A whole tile is written into C; an edge tile (fewer rows or columns) into the buffer, then added.
                        bool whole = rows == kernelRows && cols == nr;
                        T* tile = whole ? cTile : edge;
                        nint ldt = whole ? p.C.Row : nr;
                        T tileBeta = whole ? beta : T.Zero;
                        if (whole && bias != null)
                        {
                            BiasTile(bias + j, cTile, p.C.Row, rows, nr);
                            tileBeta = T.One;
                        }
                        if (kernelRows < mr)
                            Vector256Kernel<T>.RunShort(kernelRows, kcur, aPanel, bPanel, ldb, tile, ldt, p.Alpha, tileBeta);
                        else if (unpackedA && rows == mr)
                            TKernel.RunRowMajorA(kcur, p.A.At(ic + ir, pc), p.A.Row, bPanel, ldb, tile, ldt, p.Alpha, tileBeta);
                        else TKernel.Run(kcur, aPanel, bPanel, ldb, tile, ldt, p.Alpha, tileBeta);
                        if (!whole) AddEdge(edge, nr, cTile, p.C.Row, rows, cols, beta, bias == null ? null : bias + j);
                        if (rectify) Rectify(cTile, p.C.Row, rows, cols);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Rows the AVX2 kernel computes for a ragged panel of <paramref name="rows"/> (1–5): 2 or 4, or all 6 for 5.
    /// A product of m rows, m not a multiple of 6, ends in such a panel, which the 6-row tile computed whole: for the
    /// MLP's 64 rows a 4-row panel, 1 in 11 row panels a third wasted; for 128 rows a 2-row one. Zen 3, in-process A/B,
    /// two threads: 64×256×784 NT 163.6 → 159.3 µs, 64×256×128 NN 27.0 → 26.2, 64×128×256 NT 26.7 → 25.9, 128×256×784 NN
    /// 321.5 → 317.8; the MLP's training step (batch 64) 527 → 517 and 525 → 516 µs, its batch-256 inference 728 → 723 µs
    /// (medians). The AVX-512 kernel (8 rows) has no such forms: not measured on such a CPU.
    /// </summary>
    private static int ShortRows(int rows) => rows <= 2 ? 2 : rows <= 4 ? 4 : 6;

    /// <summary>C[0..rows, 0..cols] = bias[0..cols] on every row, whole vectors (cols a multiple of the vector width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BiasTile<T>(T* bias, T* c, nint ldc, int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int v = 0; v < cols; v += Vector256<T>.Count)
        {
            var row = Vector256.Load(bias + v);
            for (int r = 0; r < rows; r++) row.Store(c + r * ldc + v);
        }
    }

    /// <summary>
    /// C[0..rows, 0..cols] = tile + beta·C, not reading C when beta is 0; or tile + bias[0..cols] on every row when
    /// <paramref name="bias"/> is not null (beta is then 0).
    /// </summary>
    private static void AddEdge<T>(T* tile, nint ldt, T* c, nint ldc, int rows, int cols, T beta, T* bias = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            T* src = tile + r * ldt, dst = c + r * ldc;
            if (bias != null)
            {
                for (int j = 0; j < cols; j++) dst[j] = src[j] + bias[j];
            }
            else if (beta == T.Zero)
            {
                for (int j = 0; j < cols; j++) dst[j] = src[j];
            }
            else
            {
                for (int j = 0; j < cols; j++) dst[j] = src[j] + beta * dst[j];
            }
        }
    }

    /// <summary>
    /// Packs a panel of <paramref name="width"/> lanes by <paramref name="depth"/>: dst[d·width + l] = src[l·laneStride + d·depthStride]
    /// for the first <paramref name="lanes"/> lanes, zero for the rest, so the micro-kernel never needs edge cases.
    /// A panels are rows of op(A) (lanes = rows i, depth = p), B panels are columns of op(B) (lanes = columns j, depth = p).
    /// One of the two strides is always 1: row-major storage makes either the lanes or the depth contiguous.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackPanel<T>(T* src, nint laneStride, nint depthStride, int lanes, int width, int depth, T* dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (laneStride == 1)
        {
            // Lanes contiguous (A transposed, B not): a straight copy of one row of lanes per depth step. A ragged
            // last group of lanes is loaded under a mask, which zero-fills the lanes past the end (element by element,
            // it was most of the packing left in a LeNet batch-1 inference: conv2's last B panel, 4 of 16 columns).
            int v = Vector256<T>.Count;
            if (lanes == 6 && width == 6)
            {
                // The AVX2 kernel's full A panels of a transposed A, fewer lanes than a vector: one block copy of the 6 per
                // depth step (a 16- and an 8-byte move for float) instead of 6 scalar moves. Zen 3, in-process A/B:
                // 784×128×256 TN (an MLP weight gradient) 354 → 303 µs; Winograd's weight gradient 7.5 → 6.6 ms.
                for (int d = 0; d < depth; d++) Unsafe.CopyBlockUnaligned(dst + (nint)d * 6, src + d * depthStride, (uint)(6 * sizeof(T)));
                return;
            }
            var tail = Lanes256.TailMask<T>(lanes % v);
            for (int d = 0; d < depth; d++)
            {
                T* from = src + d * depthStride, to = dst + (nint)d * width;
                int l = 0;
                for (; l + v <= lanes; l += v) Vector256.Store(Vector256.Load(from + l), to + l);
                if (Avx.IsSupported && l < lanes && l + v <= width)
                {
                    Vector256.Store(Lanes256.LoadLanes(from + l, tail), to + l);
                    l += v;
                }
                for (; l < lanes; l++) to[l] = from[l];
                for (; l + v <= width; l += v) Vector256.Store(Vector256<T>.Zero, to + l);
                for (; l < width; l++) to[l] = T.Zero;
            }
            return;
        }

        // Depth contiguous (A not transposed, B transposed): a transpose. Square blocks of Vector256<T>.Count
        // lanes × as many depth steps are loaded as one vector per lane and transposed in registers, so both
        // reads and writes stay whole vectors; leftover lanes and depth steps go element by element.
        Debug.Assert(depthStride == 1);
        if (Avx.IsSupported && typeof(T) == typeof(float) && lanes == 6 && width == 6)
        {
            // The AVX2 kernel's full A panels: 6 lanes are fewer than a square block, so they went element by element.
            // This path and the masked B edge above, measured together on Zen 3 (in-process A/B, alternating): LeNet
            // batch-1 inference 274 → 262 µs (median), MLP training step (batch 64) 740 → 696 µs.
            int d = 0;
            for (; d + 8 <= depth; d += 8) Transpose.Block6x8((float*)src + d, laneStride, (float*)dst + (nint)d * 6);
            for (; d < depth; d++)
            {
                for (int l = 0; l < 6; l++) dst[(nint)d * 6 + l] = src[l * laneStride + d];
            }
            return;
        }
        int l0 = 0;
        if (Avx.IsSupported)
        {
            int v = Vector256<T>.Count;
            for (; l0 + v <= lanes; l0 += v)
            {
                T* from = src + l0 * laneStride, to = dst + l0;
                int d = 0;
                for (; d + v <= depth; d += v) Transpose.Block(from + d, laneStride, to + (nint)d * width, width);
                for (; d < depth; d++)
                {
                    for (int l = 0; l < v; l++) to[(nint)d * width + l] = from[l * laneStride + d];
                }
            }
        }
        for (int d = 0; d < depth; d++)
        {
            T* to = dst + (nint)d * width;
            for (int l = l0; l < lanes; l++) to[l] = src[l * laneStride + d];
            for (int l = lanes; l < width; l++) to[l] = T.Zero;
        }
    }

    /// <summary>
    /// 8×(2·Vector512) tile: 16 zmm accumulators, 2 for the B row, 1 broadcast. Per k step: 2 loads + 8 broadcast loads
    /// feed 16 FMAs, i.e. 8 cycles on two FMA pipes against 5 on two load ports; 16 independent chains cover the
    /// 4-cycle FMA latency twice over. (12 rows would give the same speed but waste more on batch sizes of 8·n.)
    /// </summary>
    private readonly struct Vector512Kernel<T> : IMicroKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static int MR => 8;
        public static int NR => 2 * Vector512<T>.Count;
        public static int KcBytes => 2048;

        // A call per tile, as when the kernel was tuned: inlined into PackedBlock the loop spilled ldb to the stack (the
        // same speed, measured on Zen 5: 512³–2048³ and the MLP's shapes within ±0.6 %), for a PackedBlock twice the size.
        [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
        public static void Run(nint kc, T* a, T* b, nint ldb, T* c, nint ldc, T alpha, T beta)
            => Tile(kc, a, 1, 8, b, ldb, c, ldc, alpha, beta);

        /// <summary><see cref="Run"/> with A read where it lies: eight rows of a row-major A, <paramref name="lda"/> apart.</summary>
        [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
        public static void RunRowMajorA(nint kc, T* a, nint lda, T* b, nint ldb, T* c, nint ldc, T alpha, T beta)
            => Tile(kc, a, lda, 1, b, ldb, c, ldc, alpha, beta);

        /// <summary>The tile's body: A's element (row r, depth p) is at a[p·depthStride + r·rowStride].</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Tile(nint kc, T* a, nint rowStride, nint depthStride, T* b, nint ldb, T* c, nint ldc, T alpha, T beta)
        {
            Vector512<T> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default;
            Vector512<T> c3a = default, c3b = default, c4a = default, c4b = default, c5a = default, c5b = default;
            Vector512<T> c6a = default, c6b = default, c7a = default, c7b = default;
            nint r1 = rowStride, r2 = 2 * rowStride, r3 = 3 * rowStride, r4 = 4 * rowStride, r5 = 5 * rowStride, r6 = 6 * rowStride, r7 = 7 * rowStride;
            for (nint p = 0; p < kc; p++)
            {
                var b0 = Vector512.Load(b);
                var b1 = Vector512.Load(b + Vector512<T>.Count);
                var x = Vector512.Create(a[0]); c0a = Lanes512.Fma(x, b0, c0a); c0b = Lanes512.Fma(x, b1, c0b);
                x = Vector512.Create(a[r1]); c1a = Lanes512.Fma(x, b0, c1a); c1b = Lanes512.Fma(x, b1, c1b);
                x = Vector512.Create(a[r2]); c2a = Lanes512.Fma(x, b0, c2a); c2b = Lanes512.Fma(x, b1, c2b);
                x = Vector512.Create(a[r3]); c3a = Lanes512.Fma(x, b0, c3a); c3b = Lanes512.Fma(x, b1, c3b);
                x = Vector512.Create(a[r4]); c4a = Lanes512.Fma(x, b0, c4a); c4b = Lanes512.Fma(x, b1, c4b);
                x = Vector512.Create(a[r5]); c5a = Lanes512.Fma(x, b0, c5a); c5b = Lanes512.Fma(x, b1, c5b);
                x = Vector512.Create(a[r6]); c6a = Lanes512.Fma(x, b0, c6a); c6b = Lanes512.Fma(x, b1, c6b);
                x = Vector512.Create(a[r7]); c7a = Lanes512.Fma(x, b0, c7a); c7b = Lanes512.Fma(x, b1, c7b);
                a += depthStride;
                b += ldb;
            }
            var va = Vector512.Create(alpha);
            var vb = Vector512.Create(beta);
            bool useBeta = beta != T.Zero;
            StoreRow(c, va, vb, useBeta, c0a, c0b); c += ldc;
            StoreRow(c, va, vb, useBeta, c1a, c1b); c += ldc;
            StoreRow(c, va, vb, useBeta, c2a, c2b); c += ldc;
            StoreRow(c, va, vb, useBeta, c3a, c3b); c += ldc;
            StoreRow(c, va, vb, useBeta, c4a, c4b); c += ldc;
            StoreRow(c, va, vb, useBeta, c5a, c5b); c += ldc;
            StoreRow(c, va, vb, useBeta, c6a, c6b); c += ldc;
            StoreRow(c, va, vb, useBeta, c7a, c7b);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void StoreRow(T* c, Vector512<T> alpha, Vector512<T> beta, bool useBeta, Vector512<T> x0, Vector512<T> x1)
        {
            T* c1 = c + Vector512<T>.Count;
            if (useBeta)
            {
                Lanes512.Fma(alpha, x0, beta * Vector512.Load(c)).Store(c);
                Lanes512.Fma(alpha, x1, beta * Vector512.Load(c1)).Store(c1);
            }
            else
            {
                (alpha * x0).Store(c);
                (alpha * x1).Store(c1);
            }
        }
    }

    /// <summary>A number of tile rows fixed when the JIT compiles (see <see cref="Vector256Kernel{T}"/>'s Rows).</summary>
    private interface ITileRows
    {
        static abstract int Count { get; }
    }

    private readonly struct TwoRows : ITileRows
    {
        public static int Count => 2;
    }

    private readonly struct FourRows : ITileRows
    {
        public static int Count => 4;
    }

    private readonly struct SixRows : ITileRows
    {
        public static int Count => 6;
    }

    /// <summary>6×(2·Vector256) tile: 12 of the 16 ymm registers accumulate, 2 hold the B row, 1 the broadcast.</summary>
    private readonly struct Vector256Kernel<T> : IMicroKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static int MR => 6;
        public static int NR => 2 * Vector256<T>.Count;

        // 256 floats: the B micro-panel (kc×16 floats, 16 KB) and the A panel (6 KB) then share a 32 KB L1 (Zen 3); with
        // 512 the B panel alone fills it. Measured on Zen 3 (2 threads, best of 5 processes): 1024³ 18.7 → 13.8 ms,
        // 64×256×784 (NT) 305 → 286 µs, 256×784×64 (TN) 207 → 175 µs; a 128-float block was no better than 256. Measured
        // again since, products of several row blocks (B packed whole and shared) are faster with 512 (see DeepBlocks).
        public static int KcBytes => 1024;

        // Inlined into PackedBlock, as it was when the kernel was tuned: the larger Rows<TRows> body (three row counts in
        // one) had put it past the inliner's budget, leaving a call per tile (no difference measured either way).
        [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
        public static void Run(nint kc, T* a, T* b, nint ldb, T* c, nint ldc, T alpha, T beta)
            => Rows<SixRows>(kc, a, 1, 6, b, ldb, c, ldc, alpha, beta);

        /// <summary>
        /// <see cref="Run"/> for the first <paramref name="rows"/> (2 or 4) rows of a packed A panel only: the ragged last
        /// panel of a product whose rows are not a multiple of 6 (m = 64: 4 rows left, m = 128: 2) no longer pays for
        /// 6 rows. Each row's sums are those of the 6-row tile, in the same order. Not inlined: a copy in PackedBlock, beside
        /// the 6-row one, cost that one its inlining (96×256×784 NN 2 % slower).
        /// </summary>
        [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
        public static void RunShort(int rows, nint kc, T* a, T* b, nint ldb, T* c, nint ldc, T alpha, T beta)
        {
            if (rows == 2) Rows<TwoRows>(kc, a, 1, 6, b, ldb, c, ldc, alpha, beta);
            else Rows<FourRows>(kc, a, 1, 6, b, ldb, c, ldc, alpha, beta);
        }

        /// <summary>
        /// <see cref="Run"/> with A read where it lies: six rows of a row-major A, <paramref name="lda"/> apart, each
        /// contiguous over the depth. No packing, at the price of six streams instead of one (see <see cref="UnpackedA{T, TKernel}"/>).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void RunRowMajorA(nint kc, T* a, nint lda, T* b, nint ldb, T* c, nint ldc, T alpha, T beta)
            => Rows<SixRows>(kc, a, lda, 1, b, ldb, c, ldc, alpha, beta);

        /// <summary>
        /// The tile's body: A's element (row r, depth p) is at a[p·depthStride + r·rowStride]. Inlined with the packed
        /// panel's constant strides (1, 6) its loads are fixed offsets from one pointer, as in a body written for them alone.
        /// </summary>
        /// <remarks>
        /// Written once for 6, 4 and 2 rows: <typeparamref name="TRows"/> is a struct, so the JIT compiles each count
        /// apart, with the rows past it (and their registers) gone.
        /// </remarks>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Rows<TRows>(nint kc, T* a, nint rowStride, nint depthStride, T* b, nint ldb, T* c, nint ldc, T alpha, T beta)
            where TRows : struct, ITileRows
        {
            Vector256<T> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default;
            Vector256<T> c3a = default, c3b = default, c4a = default, c4b = default, c5a = default, c5b = default;
            // Two depth steps per iteration, the second's B row loaded before the first's FMAs retire: when B is read
            // in place (rows ldb apart) this hides more of each row's latency. Zen 3, in-process A/B, three runs:
            // 128×256×784 NN (B in place) +4–6 %, other shapes within ±1 %.
            nint p = 0, ds = depthStride;
            nint r1 = rowStride, r2 = 2 * rowStride, r3 = 3 * rowStride, r4 = 4 * rowStride, r5 = 5 * rowStride;
            // The tile's rows of C (one or two lines each) are requested now, so that they arrive while the depth loop
            // runs instead of stalling the stores after it: a C too large for the L2 comes from L3 or memory, and the
            // hardware prefetchers do not follow a 6×16 tile. Zen 3, in-process A/B, two threads: 1024³ 12.6 → 12.1 ms,
            // 2048³ 100.5 → 96.7 ms (one thread +3.6 % and +2.8 %), 256×784×64 TN (a C of 800 KB) 159.5 → 156.4 µs; 512³,
            // 256³, the MLP's other batch-64 products, its training step and LeNet's unchanged (±1 %). 1024³ on one thread,
            // alternated with numpy's OpenBLAS in the same minutes: 86.5 → 89 GFLOP/s against its 92 (on an earlier day,
            // without this, both had read 92: the host's state moves the two apart).
            if (Sse.IsSupported)
            {
                for (int r = 0; r < TRows.Count; r++)
                {
                    Sse.Prefetch0(c + r * ldc);
                    Sse.Prefetch0(c + r * ldc + 2 * Vector256<T>.Count - 1);
                }
            }
            for (; p + 2 <= kc; p += 2)
            {
                var b0 = Vector256.Load(b);
                var b1 = Vector256.Load(b + Vector256<T>.Count);
                var x = Vector256.Create(a[0]); c0a = Lanes256.MultiplyAdd(x, b0, c0a); c0b = Lanes256.MultiplyAdd(x, b1, c0b);
                x = Vector256.Create(a[r1]); c1a = Lanes256.MultiplyAdd(x, b0, c1a); c1b = Lanes256.MultiplyAdd(x, b1, c1b);
                if (TRows.Count > 2)
                {
                    x = Vector256.Create(a[r2]); c2a = Lanes256.MultiplyAdd(x, b0, c2a); c2b = Lanes256.MultiplyAdd(x, b1, c2b);
                    x = Vector256.Create(a[r3]); c3a = Lanes256.MultiplyAdd(x, b0, c3a); c3b = Lanes256.MultiplyAdd(x, b1, c3b);
                }
                if (TRows.Count > 4)
                {
                    x = Vector256.Create(a[r4]); c4a = Lanes256.MultiplyAdd(x, b0, c4a); c4b = Lanes256.MultiplyAdd(x, b1, c4b);
                    x = Vector256.Create(a[r5]); c5a = Lanes256.MultiplyAdd(x, b0, c5a); c5b = Lanes256.MultiplyAdd(x, b1, c5b);
                }
                b0 = Vector256.Load(b + ldb);
                b1 = Vector256.Load(b + ldb + Vector256<T>.Count);
                x = Vector256.Create(a[ds]); c0a = Lanes256.MultiplyAdd(x, b0, c0a); c0b = Lanes256.MultiplyAdd(x, b1, c0b);
                x = Vector256.Create(a[ds + r1]); c1a = Lanes256.MultiplyAdd(x, b0, c1a); c1b = Lanes256.MultiplyAdd(x, b1, c1b);
                if (TRows.Count > 2)
                {
                    x = Vector256.Create(a[ds + r2]); c2a = Lanes256.MultiplyAdd(x, b0, c2a); c2b = Lanes256.MultiplyAdd(x, b1, c2b);
                    x = Vector256.Create(a[ds + r3]); c3a = Lanes256.MultiplyAdd(x, b0, c3a); c3b = Lanes256.MultiplyAdd(x, b1, c3b);
                }
                if (TRows.Count > 4)
                {
                    x = Vector256.Create(a[ds + r4]); c4a = Lanes256.MultiplyAdd(x, b0, c4a); c4b = Lanes256.MultiplyAdd(x, b1, c4b);
                    x = Vector256.Create(a[ds + r5]); c5a = Lanes256.MultiplyAdd(x, b0, c5a); c5b = Lanes256.MultiplyAdd(x, b1, c5b);
                }
                a += 2 * ds;
                b += 2 * ldb;
            }
            for (; p < kc; p++)
            {
                var b0 = Vector256.Load(b);
                var b1 = Vector256.Load(b + Vector256<T>.Count);
                var x = Vector256.Create(a[0]); c0a = Lanes256.MultiplyAdd(x, b0, c0a); c0b = Lanes256.MultiplyAdd(x, b1, c0b);
                x = Vector256.Create(a[r1]); c1a = Lanes256.MultiplyAdd(x, b0, c1a); c1b = Lanes256.MultiplyAdd(x, b1, c1b);
                if (TRows.Count > 2)
                {
                    x = Vector256.Create(a[r2]); c2a = Lanes256.MultiplyAdd(x, b0, c2a); c2b = Lanes256.MultiplyAdd(x, b1, c2b);
                    x = Vector256.Create(a[r3]); c3a = Lanes256.MultiplyAdd(x, b0, c3a); c3b = Lanes256.MultiplyAdd(x, b1, c3b);
                }
                if (TRows.Count > 4)
                {
                    x = Vector256.Create(a[r4]); c4a = Lanes256.MultiplyAdd(x, b0, c4a); c4b = Lanes256.MultiplyAdd(x, b1, c4b);
                    x = Vector256.Create(a[r5]); c5a = Lanes256.MultiplyAdd(x, b0, c5a); c5b = Lanes256.MultiplyAdd(x, b1, c5b);
                }
                a += ds;
                b += ldb;
            }
            var va = Vector256.Create(alpha);
            var vb = Vector256.Create(beta);
            bool useBeta = beta != T.Zero;
            StoreRow(c, va, vb, useBeta, c0a, c0b);
            StoreRow(c + ldc, va, vb, useBeta, c1a, c1b);
            if (TRows.Count > 2)
            {
                StoreRow(c + 2 * ldc, va, vb, useBeta, c2a, c2b);
                StoreRow(c + 3 * ldc, va, vb, useBeta, c3a, c3b);
            }
            if (TRows.Count > 4)
            {
                StoreRow(c + 4 * ldc, va, vb, useBeta, c4a, c4b);
                StoreRow(c + 5 * ldc, va, vb, useBeta, c5a, c5b);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void StoreRow(T* c, Vector256<T> alpha, Vector256<T> beta, bool useBeta, Vector256<T> x0, Vector256<T> x1)
        {
            T* c1 = c + Vector256<T>.Count;
            if (useBeta)
            {
                Lanes256.MultiplyAdd(alpha, x0, beta * Vector256.Load(c)).Store(c);
                Lanes256.MultiplyAdd(alpha, x1, beta * Vector256.Load(c1)).Store(c1);
            }
            else
            {
                (alpha * x0).Store(c);
                (alpha * x1).Store(c1);
            }
        }
    }

    /// <summary>
    /// The depth block for k: k cut into equal blocks of at most the kernel's KcBytes (AVX2, k = 784: 4×196 floats, not 3×256 + 16),
    /// or of at most <see cref="MaxKcBytes"/> when <paramref name="deep"/> (see <see cref="DeepBlocks{T}"/>).
    /// </summary>
    private static int DepthBlock<T, TKernel>(int k, bool deep = false)
        where T : unmanaged
        where TKernel : struct, IMicroKernel<T>
        => CeilDiv(k, CeilDiv(k, (deep ? MaxKcBytes : TKernel.KcBytes) / sizeof(T)));

    /// <summary>
    /// Whether a product takes depth blocks of <see cref="MaxKcBytes"/> rather than its kernel's own. A function of the
    /// shape and layout only, never of the thread count: the depth blocks fix the order of the sums.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Products of several row blocks (B packed whole and shared): fewer depth blocks mean fewer passes of a C that no
    /// longer fits the L2, and fewer, longer micro-kernel calls. With them the AVX2 kernel's B micro-panel (512×16
    /// floats, 32 KB) no longer fits its L1 next to the A panel, yet on Zen 3 (in-process A/B, two threads) 1024³ went
    /// 13.2 → 12.2 ms, 2048³ 102 → 97 ms, 512³ 1.54 → 1.50 ms (one thread: +2–8 %), where halving the row block as well
    /// (MC 144) gave back part of it.
    /// </para>
    /// <para>
    /// One row block of at least 8 row panels with B transposed (x·Wᵀ, a Linear layer at batch ≥ 43): each task packs
    /// its kc×NR slices of B from NR rows of W, so a deeper block halves the slice packings per pass over C. Zen 3,
    /// in-process A/B: 256×256×784 NT (the MLP's first layer at batch 256) 603 → 596 µs on two threads, 1158 → 1131 on
    /// one; 64×256×784 NT (its training step's) 163.3 → 161.5 µs, one thread 324 → 316; 64×128×3136 NT 329 → 327; the
    /// MLP's batch-256 inference 736 → 727 µs, its training step 524 → 522 µs (medians). With fewer row panels it was
    /// mixed (12 and 24 rows 1–2 % slower, 32×800×1024 NT 2.5 % faster), and untransposed B did not gain (128×256×784 NN
    /// 319 → 320 µs), so those keep the kernel's depth, as do other products of one row block (64×196×800 NN lost 4 %).
    /// Measured again once such products read A in place (see UnpackedA): the kernel's depth made 256×256×784 NT 586 →
    /// 626 µs, 128×256×784 NT 302 → 307, and the MLP's batch-256 inference 702 → 723 µs, while deep blocks for
    /// untransposed B still lost (128×256×784 NN 312 → 318 µs, 64×196×800 NN 131 → 138).
    /// </para>
    /// </remarks>
    private static bool DeepBlocks<T>(Problem<T> p, int mPanels, int mBlocks) where T : unmanaged
        => mBlocks > 1 || (p.B.Row == 1 && mPanels >= 8);

    // ---------------------------------------------------------------- helpers

    private static int CeilDiv(int x, int y) => (x + y - 1) / y;

    private static int RoundUp(int x, int multiple) => CeilDiv(x, multiple) * multiple;

    /// <summary>
    /// Per-thread packing buffers, kept between calls: on first touch every fresh page costs a fault (~12 µs on a
    /// VM), which for a megabyte of packed B is more than the multiply it serves. Each buffer is reserved at the
    /// largest size the blocking asks for, so it is allocated once per thread rather than regrown shape by shape;
    /// the arrays are uninitialised, so pages a small product never writes are never touched. They live on the
    /// pinned heap so their addresses are stable, and pointers are rounded up to a 64-byte (cache line) boundary.
    /// </summary>
    private static class Scratch<T> where T : unmanaged
    {
        [ThreadStatic] private static T[]? t_a;
        [ThreadStatic] private static T[]? t_b;
        [ThreadStatic] private static T[]? t_slice;

        /// <summary>This thread's A-block buffer (also the direct path's aligned copy of A's rows).</summary>
        public static T* A(int length) => Get(ref t_a, length, MC * (MaxKcBytes / sizeof(T)));

        /// <summary>This thread's buffer for one packed kc×NR slice of B (reserved for the widest kernel's NR).</summary>
        public static T* Slice(int length) => Get(ref t_slice, length, MaxKcBytes / sizeof(T) * 2 * Vector512<T>.Count);

        /// <summary>This thread's packed-B buffer, shared with the helper threads for the duration of one call.</summary>
        public static T* B(int length) => Get(ref t_b, length, PackedBLimit);

        private static T* Get(ref T[]? buffer, int length, int reserve)
        {
            int slack = 64 / sizeof(T);
            if (buffer is null || buffer.Length < length + slack)
                buffer = GC.AllocateUninitializedArray<T>(Math.Max(length, reserve) + slack, pinned: true);
            nint start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
            return (T*)((start + 63) & ~(nint)63);
        }
    }
}
