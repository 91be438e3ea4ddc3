using System.Buffers;
using System.Numerics;
using System.Runtime.Intrinsics;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// op(A) of a run of products C = alpha·op(A)·op(B) + beta·C that share it, packed once for the micro-kernel (see
/// <see cref="Gemm.Share{T}"/>). A convolution multiplies the same weights by every image's col matrix; packing them
/// again for each image was ≈ 8 % of a LeNet training step on Zen 3. Dispose it to return its buffer to the pool.
/// </summary>
internal sealed class SharedA<T> : IDisposable
    where T : unmanaged, IFloatingPointIeee754<T>
{
    internal SharedA(bool transA, int m, int k, T[] a, int aOffset, int lda, T[]? packed, int kc)
    {
        TransA = transA;
        M = m;
        K = k;
        A = a;
        AOffset = aOffset;
        Lda = lda;
        Packed = packed;
        Kc = kc;
    }

    internal bool TransA { get; }
    internal int M { get; }
    internal int K { get; }
    internal T[] A { get; }
    internal int AOffset { get; }
    internal int Lda { get; }

    /// <summary>All of op(A) in the packed path's layout, or null when the products take the direct path (which reads A in place).</summary>
    internal T[]? Packed { get; private set; }

    /// <summary>The depth blocks <see cref="Packed"/> was packed in (the kernel's own), which the products then take.</summary>
    internal int Kc { get; }

    public void Dispose()
    {
        if (Packed is not null) ArrayPool<T>.Shared.Return(Packed);
        Packed = null;
    }
}

internal static unsafe partial class Gemm
{
    /// <summary>
    /// Packs op(A) (m×k, as in <see cref="Multiply(bool, bool, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, int, int)"/>)
    /// for products with <paramref name="n"/> columns each, to be run by <see cref="Multiply{T}(SharedA{T}, bool, int, T, T[], int, int, T, T[], int, int, int)"/>.
    /// A must not change while the result is in use; the packed copy is what the products read. The packing is split
    /// over at most <paramref name="threads"/> threads.
    /// </summary>
    public static SharedA<T> Share<T>(bool transA, int m, int n, int k, T[] a, int aOffset, int lda, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        CheckExtent(a.Length, aOffset, transA ? k : m, transA ? m : k, lda, nameof(a));
        // The same choice, and the same kernel, as each product would get from Run.
        int kc = Vector512.IsHardwareAccelerated ? DepthBlock<T, Vector512Kernel<T>>(k) : DepthBlock<T, Vector256Kernel<T>>(k);
        T[]? packed = !Packs(m, n, k) ? null
            : Vector512.IsHardwareAccelerated ? PackWholeA<T, Vector512Kernel<T>>(transA, m, k, a, aOffset, lda, threads, kc)
            : PackWholeA<T, Vector256Kernel<T>>(transA, m, k, a, aOffset, lda, threads, kc);
        return new SharedA<T>(transA, m, k, a, aOffset, lda, packed, kc);
    }

    /// <summary>C = alpha·op(A)·op(B) + beta·C with op(A) from <paramref name="shared"/>; otherwise as <c>Multiply</c>.</summary>
    public static void Multiply<T>(SharedA<T> shared, bool transB, int n, T alpha, T[] b, int bOffset, int ldb, T beta, T[] c, int cOffset, int ldc, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(shared);
        T[]? packed = shared.Packed;
        int m = shared.M, k = shared.K;
        if (packed is null || n == 0 || alpha == T.Zero)
        {
            Run(shared.TransA, transB, m, n, k, alpha, shared.A, shared.AOffset, shared.Lda, b, bOffset, ldb, beta, c, cOffset, ldc, threads);
            return;
        }
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(c);
        CheckExtent(b.Length, bOffset, transB ? n : k, transB ? k : n, ldb, nameof(b));
        CheckExtent(c.Length, cOffset, m, n, ldc, nameof(c));
        fixed (T* pa = packed, pb = b, pc = c)
        {
            var bm = transB ? new Matrix<T>(pb + bOffset, 1, ldb) : new Matrix<T>(pb + bOffset, ldb, 1);
            var p = new Problem<T>(default, bm, new Matrix<T>(pc + cOffset, ldc, 1), m, n, k, alpha, beta);
            if (Vector512.IsHardwareAccelerated) Packed<T, Vector512Kernel<T>>(p, Math.Max(1, threads), pa, shared.Kc);
            else Packed<T, Vector256Kernel<T>>(p, Math.Max(1, threads), pa, shared.Kc);
        }
    }

    /// <summary>
    /// All of op(A) packed as the packed path reads it: depth block after depth block, of <paramref name="kc"/> (at
    /// depth pc, the block of kcur values holds ⌈m/MR⌉·MR rows, as MR-row panels, each k-major), so that block
    /// (pc, rows i..) starts at pc·⌈m/MR⌉·MR + i·kcur. Panels are split over the threads when there is enough to pack
    /// (at batch 1 a convolution's only work besides the product itself).
    /// </summary>
    private static T[] PackWholeA<T, TKernel>(bool transA, int m, int k, T[] a, int aOffset, int lda, int threads, int kc)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IMicroKernel<T>
    {
        T[] packed = ArrayPool<T>.Shared.Rent(RoundUp(m, TKernel.MR) * k);
        fixed (T* pa = a, pp = packed)
        {
            var am = transA ? new Matrix<T>(pa + aOffset, 1, lda) : new Matrix<T>(pa + aOffset, lda, 1);
            PackWholeA<T, TKernel>(am, m, k, pp, threads, kc);
        }
        return packed;
    }

    /// <summary>
    /// <see cref="PackWholeA{T, TKernel}(bool, int, int, T[], int, int, int, int)"/> from a pinned op(A) into <paramref name="packed"/>
    /// (⌈m/MR⌉·MR·k elements), in depth blocks of <paramref name="kc"/>.
    /// </summary>
    private static void PackWholeA<T, TKernel>(Matrix<T> a, int m, int k, T* packed, int threads, int kc)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IMicroKernel<T>
    {
        int mr = TKernel.MR, mPadded = RoundUp(m, mr), panels = mPadded / mr;
        int tasks = (long)mPadded * k >= ParallelPackElements ? Math.Clamp(threads, 1, panels) : 1;
        var pBase = (nint)packed;
        CpuParallel.For(tasks, tasks, t =>
        {
            int i0 = t * panels / tasks * mr, i1 = Math.Min(m, (t + 1) * panels / tasks * mr);
            for (int pc = 0; pc < k; pc += kc)
            {
                int kcur = Math.Min(kc, k - pc);
                for (int i = i0; i < i1; i += mr)
                    PackPanel(a.At(i, pc), a.Row, a.Col, Math.Min(mr, m - i), mr, kcur, (T*)pBase + (nint)pc * mPadded + (nint)i * kcur);
            }
        });
    }

    /// <summary>Below this many packed elements (64 KB of floats) one thread packs A alone.</summary>
    private const long ParallelPackElements = 16 * 1024;
}
