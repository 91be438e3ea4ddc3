using System.Runtime.Intrinsics;

namespace Nabla.Kernels.Cpu;

/// <summary>
/// Vector256 building blocks shared by the kernels' 256-bit paths (<see cref="Im2ColConvolution"/>,
/// <see cref="Pooling"/>); the 512-bit ones are in <see cref="Lanes512"/>. T is float or double.
/// </summary>
internal static class Lanes256
{
    /// <summary>All bits set in lanes below <paramref name="count"/>, clear in the others.</summary>
    public static Vector256<T> TailMask<T>(int count)
        where T : unmanaged
        => typeof(T) == typeof(float)
            ? Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(count)).As<int, T>()
            : Vector256.LessThan(Vector256<long>.Indices, Vector256.Create((long)count)).As<long, T>();
}
