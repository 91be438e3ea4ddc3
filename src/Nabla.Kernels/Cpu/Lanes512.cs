using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// Vector512 building blocks shared by the AVX-512 convolution kernels (<see cref="DirectConvolution"/>,
/// <see cref="ChannelConvolution"/>): masked loads and stores for row tails, fused multiply-add, row copies and an
/// in-register block transpose. T is float or double; callers check <see cref="Avx512F.IsSupported"/>.
/// </summary>
internal static unsafe class Lanes512
{
    /// <summary>All ones in lanes below <paramref name="count"/>, zero from there on.</summary>
    public static Vector512<T> TailMask<T>(int count)
        where T : unmanaged
        => typeof(T) == typeof(float)
            ? Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).As<int, T>()
            : Vector512.LessThan(Vector512<long>.Indices, Vector512.Create((long)count)).As<long, T>();

    /// <summary>Loads the lanes set in <paramref name="mask"/> and zeros elsewhere; masked-out lanes are not read, so cannot fault.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> LoadLanes<T>(T* src, Vector512<T> mask)
        where T : unmanaged
        => typeof(T) == typeof(float)
            ? Avx512F.MaskLoad((float*)src, mask.AsSingle(), Vector512<float>.Zero).As<float, T>()
            : Avx512F.MaskLoad((double*)src, mask.AsDouble(), Vector512<double>.Zero).As<double, T>();

    /// <summary>
    /// Stores <paramref name="v"/> whole, or only the lanes set in <paramref name="tailMask"/> by a masked store (which
    /// never writes, so cannot fault on, the lanes it leaves out).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreLanes<T>(T* dst, Vector512<T> v, bool whole, Vector512<T> tailMask)
        where T : unmanaged
    {
        if (whole) v.Store(dst);
        else if (typeof(T) == typeof(float)) Avx512F.MaskStore((float*)dst, tailMask.AsSingle(), v.AsSingle());
        else Avx512F.MaskStore((double*)dst, tailMask.AsDouble(), v.AsDouble());
    }

    /// <summary>a·b + c in one rounding; the JIT keeps only the branch for T.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Fma<T>(Vector512<T> a, Vector512<T> b, Vector512<T> c)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        throw new NotSupportedException($"The 512-bit kernels (GEMM, convolution) are implemented for float and double, not {typeof(T).Name}.");
    }

    /// <summary>
    /// Copies <paramref name="rows"/> rows of <paramref name="width"/> elements between row pitches: whole vectors, then
    /// the tail by masked load and store, so nothing past <paramref name="width"/> is read or written. Rows here are a
    /// few vectors long, where a memmove call per row would cost more than the copy.
    /// </summary>
    public static void CopyRows<T>(T* src, int srcPitch, T* dst, int dstPitch, int rows, int width)
        where T : unmanaged
    {
        int lanes = Vector512<T>.Count, whole = width - width % lanes;
        Vector512<T> tailMask = TailMask<T>(width - whole);
        for (int r = 0; r < rows; r++, src += srcPitch, dst += dstPitch)
        {
            for (int c = 0; c < whole; c += lanes) Vector512.Load(src + c).Store(dst + c);
            if (whole < width) StoreLanes(dst + whole, LoadLanes(src + whole, tailMask), false, tailMask);
        }
    }

    /// <summary>
    /// Transposes a block of at most L×L elements (L = Vector512&lt;T&gt;.Count): element c of row r, for r &lt;
    /// <paramref name="rows"/> and c &lt; <paramref name="cols"/>, goes from src[r·srcStride + c] to dst[c·dstStride + r].
    /// Nothing outside those rows and columns is read or written. The whole block stays in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Transpose<T>(T* src, nint srcStride, int rows, int cols, T* dst, nint dstStride)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float)) Transpose16((float*)src, srcStride, rows, cols, (float*)dst, dstStride);
        else Transpose8((double*)src, srcStride, rows, cols, (double*)dst, dstStride);
    }

    /// <summary>Row i of a block: whole, masked to the block's columns, or zero past its rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Row<T>(T* src, nint stride, int i, int rows, bool whole, Vector512<T> mask)
        where T : unmanaged
        => i >= rows ? Vector512<T>.Zero : whole ? Vector512.Load(src + i * stride) : LoadLanes(src + i * stride, mask);

    /// <summary>
    /// 16×16 floats in four shuffle stages of 16: interleave the floats of row pairs, then pairs of pairs (as doubles),
    /// which leaves u[4i + j] holding column 4k + j of rows 4i..4i+3 in its 128-bit chunk k; then two stages of 128-bit
    /// shuffles gather chunk k of u[j], u[4 + j], u[8 + j], u[12 + j] into column 4k + j.
    /// </summary>
    private static void Transpose16(float* src, nint srcStride, int rows, int cols, float* dst, nint dstStride)
    {
        Vector512<float> colMask = TailMask<float>(cols), rowMask = TailMask<float>(rows);
        bool wholeRows = cols == 16, wholeCols = rows == 16;
        Vector512<float> r0 = Row(src, srcStride, 0, rows, wholeRows, colMask);
        Vector512<float> r1 = Row(src, srcStride, 1, rows, wholeRows, colMask);
        Vector512<float> r2 = Row(src, srcStride, 2, rows, wholeRows, colMask);
        Vector512<float> r3 = Row(src, srcStride, 3, rows, wholeRows, colMask);
        Vector512<float> r4 = Row(src, srcStride, 4, rows, wholeRows, colMask);
        Vector512<float> r5 = Row(src, srcStride, 5, rows, wholeRows, colMask);
        Vector512<float> r6 = Row(src, srcStride, 6, rows, wholeRows, colMask);
        Vector512<float> r7 = Row(src, srcStride, 7, rows, wholeRows, colMask);
        Vector512<float> r8 = Row(src, srcStride, 8, rows, wholeRows, colMask);
        Vector512<float> r9 = Row(src, srcStride, 9, rows, wholeRows, colMask);
        Vector512<float> r10 = Row(src, srcStride, 10, rows, wholeRows, colMask);
        Vector512<float> r11 = Row(src, srcStride, 11, rows, wholeRows, colMask);
        Vector512<float> r12 = Row(src, srcStride, 12, rows, wholeRows, colMask);
        Vector512<float> r13 = Row(src, srcStride, 13, rows, wholeRows, colMask);
        Vector512<float> r14 = Row(src, srcStride, 14, rows, wholeRows, colMask);
        Vector512<float> r15 = Row(src, srcStride, 15, rows, wholeRows, colMask);
        Vector512<float> t0 = Avx512F.UnpackLow(r0, r1), t1 = Avx512F.UnpackHigh(r0, r1);
        Vector512<float> t2 = Avx512F.UnpackLow(r2, r3), t3 = Avx512F.UnpackHigh(r2, r3);
        Vector512<float> t4 = Avx512F.UnpackLow(r4, r5), t5 = Avx512F.UnpackHigh(r4, r5);
        Vector512<float> t6 = Avx512F.UnpackLow(r6, r7), t7 = Avx512F.UnpackHigh(r6, r7);
        Vector512<float> t8 = Avx512F.UnpackLow(r8, r9), t9 = Avx512F.UnpackHigh(r8, r9);
        Vector512<float> t10 = Avx512F.UnpackLow(r10, r11), t11 = Avx512F.UnpackHigh(r10, r11);
        Vector512<float> t12 = Avx512F.UnpackLow(r12, r13), t13 = Avx512F.UnpackHigh(r12, r13);
        Vector512<float> t14 = Avx512F.UnpackLow(r14, r15), t15 = Avx512F.UnpackHigh(r14, r15);
        Vector512<float> u0 = Avx512F.UnpackLow(t0.AsDouble(), t2.AsDouble()).AsSingle(), u1 = Avx512F.UnpackHigh(t0.AsDouble(), t2.AsDouble()).AsSingle();
        Vector512<float> u2 = Avx512F.UnpackLow(t1.AsDouble(), t3.AsDouble()).AsSingle(), u3 = Avx512F.UnpackHigh(t1.AsDouble(), t3.AsDouble()).AsSingle();
        Vector512<float> u4 = Avx512F.UnpackLow(t4.AsDouble(), t6.AsDouble()).AsSingle(), u5 = Avx512F.UnpackHigh(t4.AsDouble(), t6.AsDouble()).AsSingle();
        Vector512<float> u6 = Avx512F.UnpackLow(t5.AsDouble(), t7.AsDouble()).AsSingle(), u7 = Avx512F.UnpackHigh(t5.AsDouble(), t7.AsDouble()).AsSingle();
        Vector512<float> u8 = Avx512F.UnpackLow(t8.AsDouble(), t10.AsDouble()).AsSingle(), u9 = Avx512F.UnpackHigh(t8.AsDouble(), t10.AsDouble()).AsSingle();
        Vector512<float> u10 = Avx512F.UnpackLow(t9.AsDouble(), t11.AsDouble()).AsSingle(), u11 = Avx512F.UnpackHigh(t9.AsDouble(), t11.AsDouble()).AsSingle();
        Vector512<float> u12 = Avx512F.UnpackLow(t12.AsDouble(), t14.AsDouble()).AsSingle(), u13 = Avx512F.UnpackHigh(t12.AsDouble(), t14.AsDouble()).AsSingle();
        Vector512<float> u14 = Avx512F.UnpackLow(t13.AsDouble(), t15.AsDouble()).AsSingle(), u15 = Avx512F.UnpackHigh(t13.AsDouble(), t15.AsDouble()).AsSingle();
        Vector512<float> s0_0 = Avx512F.Shuffle4x128(u0, u4, 0x44), s1_0 = Avx512F.Shuffle4x128(u0, u4, 0xEE);
        Vector512<float> s2_0 = Avx512F.Shuffle4x128(u8, u12, 0x44), s3_0 = Avx512F.Shuffle4x128(u8, u12, 0xEE);
        Vector512<float> s0_1 = Avx512F.Shuffle4x128(u1, u5, 0x44), s1_1 = Avx512F.Shuffle4x128(u1, u5, 0xEE);
        Vector512<float> s2_1 = Avx512F.Shuffle4x128(u9, u13, 0x44), s3_1 = Avx512F.Shuffle4x128(u9, u13, 0xEE);
        Vector512<float> s0_2 = Avx512F.Shuffle4x128(u2, u6, 0x44), s1_2 = Avx512F.Shuffle4x128(u2, u6, 0xEE);
        Vector512<float> s2_2 = Avx512F.Shuffle4x128(u10, u14, 0x44), s3_2 = Avx512F.Shuffle4x128(u10, u14, 0xEE);
        Vector512<float> s0_3 = Avx512F.Shuffle4x128(u3, u7, 0x44), s1_3 = Avx512F.Shuffle4x128(u3, u7, 0xEE);
        Vector512<float> s2_3 = Avx512F.Shuffle4x128(u11, u15, 0x44), s3_3 = Avx512F.Shuffle4x128(u11, u15, 0xEE);
        if (cols > 0) StoreLanes(dst + 0 * dstStride, Avx512F.Shuffle4x128(s0_0, s2_0, 0x88), wholeCols, rowMask);
        if (cols > 4) StoreLanes(dst + 4 * dstStride, Avx512F.Shuffle4x128(s0_0, s2_0, 0xDD), wholeCols, rowMask);
        if (cols > 8) StoreLanes(dst + 8 * dstStride, Avx512F.Shuffle4x128(s1_0, s3_0, 0x88), wholeCols, rowMask);
        if (cols > 12) StoreLanes(dst + 12 * dstStride, Avx512F.Shuffle4x128(s1_0, s3_0, 0xDD), wholeCols, rowMask);
        if (cols > 1) StoreLanes(dst + 1 * dstStride, Avx512F.Shuffle4x128(s0_1, s2_1, 0x88), wholeCols, rowMask);
        if (cols > 5) StoreLanes(dst + 5 * dstStride, Avx512F.Shuffle4x128(s0_1, s2_1, 0xDD), wholeCols, rowMask);
        if (cols > 9) StoreLanes(dst + 9 * dstStride, Avx512F.Shuffle4x128(s1_1, s3_1, 0x88), wholeCols, rowMask);
        if (cols > 13) StoreLanes(dst + 13 * dstStride, Avx512F.Shuffle4x128(s1_1, s3_1, 0xDD), wholeCols, rowMask);
        if (cols > 2) StoreLanes(dst + 2 * dstStride, Avx512F.Shuffle4x128(s0_2, s2_2, 0x88), wholeCols, rowMask);
        if (cols > 6) StoreLanes(dst + 6 * dstStride, Avx512F.Shuffle4x128(s0_2, s2_2, 0xDD), wholeCols, rowMask);
        if (cols > 10) StoreLanes(dst + 10 * dstStride, Avx512F.Shuffle4x128(s1_2, s3_2, 0x88), wholeCols, rowMask);
        if (cols > 14) StoreLanes(dst + 14 * dstStride, Avx512F.Shuffle4x128(s1_2, s3_2, 0xDD), wholeCols, rowMask);
        if (cols > 3) StoreLanes(dst + 3 * dstStride, Avx512F.Shuffle4x128(s0_3, s2_3, 0x88), wholeCols, rowMask);
        if (cols > 7) StoreLanes(dst + 7 * dstStride, Avx512F.Shuffle4x128(s0_3, s2_3, 0xDD), wholeCols, rowMask);
        if (cols > 11) StoreLanes(dst + 11 * dstStride, Avx512F.Shuffle4x128(s1_3, s3_3, 0x88), wholeCols, rowMask);
        if (cols > 15) StoreLanes(dst + 15 * dstStride, Avx512F.Shuffle4x128(s1_3, s3_3, 0xDD), wholeCols, rowMask);
    }

    /// <summary>8×8 doubles: one interleave stage leaves t[2i + j] holding column 2k + j of rows 2i, 2i+1 in chunk k; then as in <see cref="Transpose16"/>.</summary>
    private static void Transpose8(double* src, nint srcStride, int rows, int cols, double* dst, nint dstStride)
    {
        Vector512<double> colMask = TailMask<double>(cols), rowMask = TailMask<double>(rows);
        bool wholeRows = cols == 8, wholeCols = rows == 8;
        Vector512<double> r0 = Row(src, srcStride, 0, rows, wholeRows, colMask);
        Vector512<double> r1 = Row(src, srcStride, 1, rows, wholeRows, colMask);
        Vector512<double> r2 = Row(src, srcStride, 2, rows, wholeRows, colMask);
        Vector512<double> r3 = Row(src, srcStride, 3, rows, wholeRows, colMask);
        Vector512<double> r4 = Row(src, srcStride, 4, rows, wholeRows, colMask);
        Vector512<double> r5 = Row(src, srcStride, 5, rows, wholeRows, colMask);
        Vector512<double> r6 = Row(src, srcStride, 6, rows, wholeRows, colMask);
        Vector512<double> r7 = Row(src, srcStride, 7, rows, wholeRows, colMask);
        Vector512<double> t0 = Avx512F.UnpackLow(r0, r1), t1 = Avx512F.UnpackHigh(r0, r1);
        Vector512<double> t2 = Avx512F.UnpackLow(r2, r3), t3 = Avx512F.UnpackHigh(r2, r3);
        Vector512<double> t4 = Avx512F.UnpackLow(r4, r5), t5 = Avx512F.UnpackHigh(r4, r5);
        Vector512<double> t6 = Avx512F.UnpackLow(r6, r7), t7 = Avx512F.UnpackHigh(r6, r7);
        Vector512<double> s0_0 = Avx512F.Shuffle4x128(t0, t2, 0x44), s1_0 = Avx512F.Shuffle4x128(t0, t2, 0xEE);
        Vector512<double> s2_0 = Avx512F.Shuffle4x128(t4, t6, 0x44), s3_0 = Avx512F.Shuffle4x128(t4, t6, 0xEE);
        Vector512<double> s0_1 = Avx512F.Shuffle4x128(t1, t3, 0x44), s1_1 = Avx512F.Shuffle4x128(t1, t3, 0xEE);
        Vector512<double> s2_1 = Avx512F.Shuffle4x128(t5, t7, 0x44), s3_1 = Avx512F.Shuffle4x128(t5, t7, 0xEE);
        if (cols > 0) StoreLanes(dst + 0 * dstStride, Avx512F.Shuffle4x128(s0_0, s2_0, 0x88), wholeCols, rowMask);
        if (cols > 2) StoreLanes(dst + 2 * dstStride, Avx512F.Shuffle4x128(s0_0, s2_0, 0xDD), wholeCols, rowMask);
        if (cols > 4) StoreLanes(dst + 4 * dstStride, Avx512F.Shuffle4x128(s1_0, s3_0, 0x88), wholeCols, rowMask);
        if (cols > 6) StoreLanes(dst + 6 * dstStride, Avx512F.Shuffle4x128(s1_0, s3_0, 0xDD), wholeCols, rowMask);
        if (cols > 1) StoreLanes(dst + 1 * dstStride, Avx512F.Shuffle4x128(s0_1, s2_1, 0x88), wholeCols, rowMask);
        if (cols > 3) StoreLanes(dst + 3 * dstStride, Avx512F.Shuffle4x128(s0_1, s2_1, 0xDD), wholeCols, rowMask);
        if (cols > 5) StoreLanes(dst + 5 * dstStride, Avx512F.Shuffle4x128(s1_1, s3_1, 0x88), wholeCols, rowMask);
        if (cols > 7) StoreLanes(dst + 7 * dstStride, Avx512F.Shuffle4x128(s1_1, s3_1, 0xDD), wholeCols, rowMask);
    }
}
