using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// Vector256 building blocks shared by the kernels' 256-bit paths (<see cref="Gemm"/>, <see cref="Im2ColConvolution"/>,
/// <see cref="Pooling"/>); the 512-bit ones are in <see cref="Lanes512"/>. T is float or double.
/// </summary>
internal static unsafe class Lanes256
{
    /// <summary>All bits set in lanes below <paramref name="count"/>, clear in the others.</summary>
    public static Vector256<T> TailMask<T>(int count)
        where T : unmanaged
        => typeof(T) == typeof(float)
            ? Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(count)).As<int, T>()
            : Vector256.LessThan(Vector256<long>.Indices, Vector256.Create((long)count)).As<long, T>();

    /// <summary>Loads the lanes set in <paramref name="mask"/> and zeros elsewhere; masked-out lanes are not read, so cannot fault. Needs AVX.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> LoadLanes<T>(T* src, Vector256<T> mask)
        where T : unmanaged
        => typeof(T) == typeof(float)
            ? Avx.MaskLoad((float*)src, mask.AsSingle()).As<float, T>()
            : Avx.MaskLoad((double*)src, mask.AsDouble()).As<double, T>();

    /// <summary>Stores the lanes of <paramref name="v"/> set in <paramref name="mask"/>; the others are neither written nor faulted on. Needs AVX.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreLanes<T>(T* dst, Vector256<T> v, Vector256<T> mask)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float)) Avx.MaskStore((float*)dst, mask.AsSingle(), v.AsSingle());
        else Avx.MaskStore((double*)dst, mask.AsDouble(), v.AsDouble());
    }

    /// <summary>
    /// Stores <paramref name="v"/> whole, or only the lanes set in <paramref name="tailMask"/> (as
    /// <see cref="Lanes512.StoreLanes{T}(T*, Vector512{T}, bool, Vector512{T})"/> does). Needs AVX for a partial store.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreLanes<T>(T* dst, Vector256<T> v, bool whole, Vector256<T> tailMask)
        where T : unmanaged
    {
        if (whole) v.Store(dst);
        else StoreLanes(dst, v, tailMask);
    }

    /// <summary>a·b + c, fused where the CPU has FMA (a multiply and an add otherwise); the JIT keeps only the branch for T.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> MultiplyAdd<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Vector256.MultiplyAddEstimate(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        return Vector256.MultiplyAddEstimate(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
    }
}
