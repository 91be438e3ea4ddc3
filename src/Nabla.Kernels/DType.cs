namespace Nabla.Kernels;

/// <summary>Element types a tensor can hold. Floating types carry gradients; integer and boolean ones hold indices and masks.</summary>
public enum DType
{
    Float32,
    Float64,
    /// <summary>64-bit integers, PyTorch's index type (class labels, argmax results, gather indices).</summary>
    Int64,
    /// <summary>Booleans, stored one byte each (comparison results, masks).</summary>
    Bool,
}

public static class DTypeExtensions
{
    public static int ElementSize(this DType dtype) => dtype switch
    {
        DType.Float32 => 4,
        DType.Float64 => 8,
        DType.Int64 => 8,
        DType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    public static bool IsFloatingPoint(this DType dtype) => dtype is DType.Float32 or DType.Float64;

    /// <summary>The name PyTorch prints (<c>torch.float32</c> …), used by <c>ToString</c> and error messages.</summary>
    public static string TorchName(this DType dtype) => dtype switch
    {
        DType.Float32 => "torch.float32",
        DType.Float64 => "torch.float64",
        DType.Int64 => "torch.int64",
        DType.Bool => "torch.bool",
        _ => dtype.ToString(),
    };

    /// <summary>The CLR element type that stores this dtype.</summary>
    public static Type ClrType(this DType dtype) => dtype switch
    {
        DType.Float32 => typeof(float),
        DType.Float64 => typeof(double),
        DType.Int64 => typeof(long),
        DType.Bool => typeof(byte),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>NumPy-style promotion for binary ops: bool &lt; int64 &lt; float32 &lt; float64.</summary>
    public static DType Promote(DType a, DType b) => a == b ? a : RankToDType(Math.Max(Rank(a), Rank(b)));

    private static int Rank(DType d) => d switch { DType.Bool => 0, DType.Int64 => 1, DType.Float32 => 2, _ => 3 };

    private static DType RankToDType(int r) => r switch { 0 => DType.Bool, 1 => DType.Int64, 2 => DType.Float32, _ => DType.Float64 };
}
