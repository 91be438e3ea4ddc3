using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Nabla.Kernels.Cpu;

/// <summary>In-register transposes for the packing routines (GEMM panels, convolution weights). Callers check <see cref="Avx.IsSupported"/>.</summary>
internal static unsafe class Transpose
{
    /// <summary>
    /// Transposes a square block of Vector256&lt;T&gt;.Count rows (8×8 floats or 4×4 doubles): row r of the source
    /// at from + r·fromStride becomes column r of the destination, whose rows are toStride apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Block<T>(T* from, nint fromStride, T* to, nint toStride) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            float* f = (float*)from, o = (float*)to;
            // Interleave pairs of rows, then pairs of pairs, then swap 128-bit halves: three shuffle stages.
            var t0 = Avx.UnpackLow(Avx.LoadVector256(f), Avx.LoadVector256(f + fromStride));
            var t1 = Avx.UnpackHigh(Avx.LoadVector256(f), Avx.LoadVector256(f + fromStride));
            var t2 = Avx.UnpackLow(Avx.LoadVector256(f + 2 * fromStride), Avx.LoadVector256(f + 3 * fromStride));
            var t3 = Avx.UnpackHigh(Avx.LoadVector256(f + 2 * fromStride), Avx.LoadVector256(f + 3 * fromStride));
            var t4 = Avx.UnpackLow(Avx.LoadVector256(f + 4 * fromStride), Avx.LoadVector256(f + 5 * fromStride));
            var t5 = Avx.UnpackHigh(Avx.LoadVector256(f + 4 * fromStride), Avx.LoadVector256(f + 5 * fromStride));
            var t6 = Avx.UnpackLow(Avx.LoadVector256(f + 6 * fromStride), Avx.LoadVector256(f + 7 * fromStride));
            var t7 = Avx.UnpackHigh(Avx.LoadVector256(f + 6 * fromStride), Avx.LoadVector256(f + 7 * fromStride));
            var s0 = Avx.Shuffle(t0, t2, 0x44);
            var s1 = Avx.Shuffle(t0, t2, 0xEE);
            var s2 = Avx.Shuffle(t1, t3, 0x44);
            var s3 = Avx.Shuffle(t1, t3, 0xEE);
            var s4 = Avx.Shuffle(t4, t6, 0x44);
            var s5 = Avx.Shuffle(t4, t6, 0xEE);
            var s6 = Avx.Shuffle(t5, t7, 0x44);
            var s7 = Avx.Shuffle(t5, t7, 0xEE);
            Avx.Store(o, Avx.Permute2x128(s0, s4, 0x20));
            Avx.Store(o + toStride, Avx.Permute2x128(s1, s5, 0x20));
            Avx.Store(o + 2 * toStride, Avx.Permute2x128(s2, s6, 0x20));
            Avx.Store(o + 3 * toStride, Avx.Permute2x128(s3, s7, 0x20));
            Avx.Store(o + 4 * toStride, Avx.Permute2x128(s0, s4, 0x31));
            Avx.Store(o + 5 * toStride, Avx.Permute2x128(s1, s5, 0x31));
            Avx.Store(o + 6 * toStride, Avx.Permute2x128(s2, s6, 0x31));
            Avx.Store(o + 7 * toStride, Avx.Permute2x128(s3, s7, 0x31));
        }
        else
        {
            double* f = (double*)from, o = (double*)to;
            var t0 = Avx.UnpackLow(Avx.LoadVector256(f), Avx.LoadVector256(f + fromStride));
            var t1 = Avx.UnpackHigh(Avx.LoadVector256(f), Avx.LoadVector256(f + fromStride));
            var t2 = Avx.UnpackLow(Avx.LoadVector256(f + 2 * fromStride), Avx.LoadVector256(f + 3 * fromStride));
            var t3 = Avx.UnpackHigh(Avx.LoadVector256(f + 2 * fromStride), Avx.LoadVector256(f + 3 * fromStride));
            Avx.Store(o, Avx.Permute2x128(t0, t2, 0x20));
            Avx.Store(o + toStride, Avx.Permute2x128(t1, t3, 0x20));
            Avx.Store(o + 2 * toStride, Avx.Permute2x128(t0, t2, 0x31));
            Avx.Store(o + 3 * toStride, Avx.Permute2x128(t1, t3, 0x31));
        }
    }

    /// <summary>
    /// Transposes 6 rows of 8 floats (rows fromStride apart) into 8 rows of 6, written contiguously as 48 floats at
    /// <paramref name="to"/>: the packing of a 6-row A panel for the AVX2 micro-kernel, 8 depth steps at a time. The
    /// block is transposed as 8×8 with two zero rows; each output row is stored whole (its two extra floats are
    /// overwritten by the next row), the last one as 4 + 2 so that nothing is written past the 48.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Block6x8(float* from, nint fromStride, float* to)
    {
        float* f = from, o = to;
        var zero = Vector256<float>.Zero;
        var t0 = Avx.UnpackLow(Avx.LoadVector256(f), Avx.LoadVector256(f + fromStride));
        var t1 = Avx.UnpackHigh(Avx.LoadVector256(f), Avx.LoadVector256(f + fromStride));
        var t2 = Avx.UnpackLow(Avx.LoadVector256(f + 2 * fromStride), Avx.LoadVector256(f + 3 * fromStride));
        var t3 = Avx.UnpackHigh(Avx.LoadVector256(f + 2 * fromStride), Avx.LoadVector256(f + 3 * fromStride));
        var t4 = Avx.UnpackLow(Avx.LoadVector256(f + 4 * fromStride), Avx.LoadVector256(f + 5 * fromStride));
        var t5 = Avx.UnpackHigh(Avx.LoadVector256(f + 4 * fromStride), Avx.LoadVector256(f + 5 * fromStride));
        var s0 = Avx.Shuffle(t0, t2, 0x44);
        var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44);
        var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, zero, 0x44);
        var s5 = Avx.Shuffle(t4, zero, 0xEE);
        var s6 = Avx.Shuffle(t5, zero, 0x44);
        var s7 = Avx.Shuffle(t5, zero, 0xEE);
        Avx.Store(o, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(o + 6, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(o + 12, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(o + 18, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(o + 24, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(o + 30, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(o + 36, Avx.Permute2x128(s2, s6, 0x31));
        var last = Avx.Permute2x128(s3, s7, 0x31);
        Sse.Store(o + 42, last.GetLower());
        Sse.StoreLow(o + 46, last.GetUpper());
    }
}
