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
        throw new NotSupportedException($"Conv2d is implemented for float and double, not {typeof(T).Name}.");
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
    /// Nothing outside those rows and columns is read or written.
    /// </summary>
    [SkipLocalsInit]
    public static void Transpose<T>(T* src, nint srcStride, int rows, int cols, T* dst, nint dstStride)
        where T : unmanaged
    {
        int lanes = Vector512<T>.Count;
        Vector512<T> colMask = TailMask<T>(cols), rowMask = TailMask<T>(rows);
        bool wholeRows = cols == lanes, wholeCols = rows == lanes;
        Vector512<T>* r = stackalloc Vector512<T>[lanes];
        for (int i = 0; i < lanes; i++)
            r[i] = i >= rows ? Vector512<T>.Zero : wholeRows ? Vector512.Load(src + i * srcStride) : LoadLanes(src + i * srcStride, colMask);
        if (typeof(T) == typeof(float)) Transpose16((Vector512<float>*)r);
        else Transpose8((Vector512<double>*)r);
        for (int c = 0; c < cols; c++) StoreLanes(dst + c * dstStride, r[c], wholeCols, rowMask);
    }

    /// <summary>
    /// In place, 16 rows of 16 floats: after it, v[c] lane r holds what v[r] lane c held. Four shuffle stages of 16
    /// each: interleave floats of row pairs, then pairs of pairs (as doubles), which leaves v'[4i + j] holding column
    /// 4k + j of rows 4i..4i+3 in its 128-bit chunk k; then two 128-bit shuffles gather the four chunks of each column.
    /// </summary>
    [SkipLocalsInit]
    private static void Transpose16(Vector512<float>* v)
    {
        Vector512<float>* t = stackalloc Vector512<float>[16];
        for (int i = 0; i < 16; i += 2)
        {
            t[i] = Avx512F.UnpackLow(v[i], v[i + 1]);
            t[i + 1] = Avx512F.UnpackHigh(v[i], v[i + 1]);
        }
        for (int i = 0; i < 16; i += 4)
        {
            Vector512<double> a = t[i].AsDouble(), b = t[i + 1].AsDouble(), c = t[i + 2].AsDouble(), d = t[i + 3].AsDouble();
            v[i] = Avx512F.UnpackLow(a, c).AsSingle();
            v[i + 1] = Avx512F.UnpackHigh(a, c).AsSingle();
            v[i + 2] = Avx512F.UnpackLow(b, d).AsSingle();
            v[i + 3] = Avx512F.UnpackHigh(b, d).AsSingle();
        }
        for (int j = 0; j < 4; j++)
        {
            // Column 4k + j takes chunk k of v[j], v[4 + j], v[8 + j], v[12 + j], in that order.
            Vector512<float> s0 = Avx512F.Shuffle4x128(v[j], v[4 + j], 0x44), s1 = Avx512F.Shuffle4x128(v[j], v[4 + j], 0xEE);
            Vector512<float> s2 = Avx512F.Shuffle4x128(v[8 + j], v[12 + j], 0x44), s3 = Avx512F.Shuffle4x128(v[8 + j], v[12 + j], 0xEE);
            t[j] = Avx512F.Shuffle4x128(s0, s2, 0x88);
            t[4 + j] = Avx512F.Shuffle4x128(s0, s2, 0xDD);
            t[8 + j] = Avx512F.Shuffle4x128(s1, s3, 0x88);
            t[12 + j] = Avx512F.Shuffle4x128(s1, s3, 0xDD);
        }
        for (int i = 0; i < 16; i++) v[i] = t[i];
    }

    /// <summary>In place, 8 rows of 8 doubles: one interleave stage leaves v'[2i + j] holding column 2k + j of rows 2i, 2i+1 in chunk k; then as in <see cref="Transpose16"/>.</summary>
    [SkipLocalsInit]
    private static void Transpose8(Vector512<double>* v)
    {
        Vector512<double>* t = stackalloc Vector512<double>[8];
        for (int i = 0; i < 8; i += 2)
        {
            t[i] = Avx512F.UnpackLow(v[i], v[i + 1]);
            t[i + 1] = Avx512F.UnpackHigh(v[i], v[i + 1]);
        }
        for (int j = 0; j < 2; j++)
        {
            Vector512<double> s0 = Avx512F.Shuffle4x128(t[j], t[2 + j], 0x44), s1 = Avx512F.Shuffle4x128(t[j], t[2 + j], 0xEE);
            Vector512<double> s2 = Avx512F.Shuffle4x128(t[4 + j], t[6 + j], 0x44), s3 = Avx512F.Shuffle4x128(t[4 + j], t[6 + j], 0xEE);
            v[j] = Avx512F.Shuffle4x128(s0, s2, 0x88);
            v[2 + j] = Avx512F.Shuffle4x128(s0, s2, 0xDD);
            v[4 + j] = Avx512F.Shuffle4x128(s1, s3, 0x88);
            v[6 + j] = Avx512F.Shuffle4x128(s1, s3, 0xDD);
        }
    }
}
