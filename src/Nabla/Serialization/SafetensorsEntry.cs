using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Nabla.Serialization;

/// <summary>
/// One tensor of a safetensors file: its dtype name as the format spells it (<c>"F32"</c>, <c>"I64"</c> …),
/// its shape and its elements as little-endian bytes in row-major order.
/// </summary>
/// <remarks>
/// The arrays are held, not copied, so loading and saving large weights costs no extra memory; do not mutate
/// them while the entry is in use. Record equality compares the arrays by reference.
/// </remarks>
public sealed record SafetensorsEntry
{
    /// <summary>
    /// The dtypes this library reads and writes, in the reference implementation's order of increasing alignment.
    /// Saving sorts tensors by descending position in this list so every tensor's data stays aligned to its element size.
    /// </summary>
    private static readonly string[] DTypesByAlignment =
        ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"];

    /// <exception cref="ArgumentException">Unknown dtype, negative dimension, or a data length that does not match the shape.</exception>
    public SafetensorsEntry(string dType, long[] shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(dType);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        if (!IsSupportedDType(dType))
        {
            throw new ArgumentException($"Unknown safetensors dtype '{dType}'; supported: {string.Join(", ", DTypesByAlignment)}.", nameof(dType));
        }
        if (Array.Exists(shape, d => d < 0))
        {
            throw new ArgumentException($"Shape [{string.Join(", ", shape)}] has a negative dimension.", nameof(shape));
        }
        long? expected = ByteCount(dType, shape);
        if (expected != data.Length)
        {
            throw new ArgumentException(
                $"A {dType} tensor of shape [{string.Join(", ", shape)}] needs {expected?.ToString() ?? "more than 2^63"} bytes, but {data.Length} were given.",
                nameof(data));
        }
        DType = dType;
        Shape = shape;
        Data = data;
    }

    public string DType { get; }

    public long[] Shape { get; }

    /// <summary>The elements as little-endian bytes, row-major.</summary>
    public byte[] Data { get; }

    /// <summary>The number of elements: the product of <see cref="Shape"/> (1 for a scalar's empty shape).</summary>
    public long ElementCount => Data.Length / ElementSize(DType);

    public static bool IsSupportedDType(string dType) => Array.IndexOf(DTypesByAlignment, dType) >= 0;

    /// <summary>Bytes per element of a safetensors dtype.</summary>
    /// <exception cref="ArgumentException">The dtype is not one of the supported names.</exception>
    public static int ElementSize(string dType) => dType switch
    {
        "BOOL" or "U8" or "I8" or "F8_E5M2" or "F8_E4M3" => 1,
        "I16" or "U16" or "F16" or "BF16" => 2,
        "I32" or "U32" or "F32" => 4,
        "I64" or "U64" or "F64" => 8,
        _ => throw new ArgumentException($"Unknown safetensors dtype '{dType}'.", nameof(dType)),
    };

    /// <summary>Rank used to order tensors when saving: higher means larger alignment.</summary>
    internal static int AlignmentRank(string dType) => Array.IndexOf(DTypesByAlignment, dType);

    internal static string SupportedDTypeList => string.Join(", ", DTypesByAlignment);

    /// <summary>Bytes needed by a tensor of this dtype and shape, or null when the product overflows a long.</summary>
    internal static long? ByteCount(string dType, long[] shape)
    {
        try
        {
            long count = ElementSize(dType);
            foreach (long d in shape)
            {
                count = checked(count * d);
            }
            return count;
        }
        catch (OverflowException)
        {
            return null;
        }
    }

    public static SafetensorsEntry FromSingles(float[] data, long[] shape) => new("F32", shape, ToLittleEndianBytes<float>(data));

    public static SafetensorsEntry FromDoubles(double[] data, long[] shape) => new("F64", shape, ToLittleEndianBytes<double>(data));

    public static SafetensorsEntry FromInt64s(long[] data, long[] shape) => new("I64", shape, ToLittleEndianBytes<long>(data));

    /// <summary>The elements as floats. Accepts F32 and the half-precision F16 and BF16, which widen exactly.</summary>
    /// <exception cref="InvalidOperationException">The dtype is not one of those.</exception>
    public float[] ToSingles()
    {
        switch (DType)
        {
            case "F32":
                return FromLittleEndianBytes<float>(Data);
            case "F16":
            {
                var result = new float[Data.Length / 2];
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(Data.AsSpan(2 * i)));
                }
                return result;
            }
            case "BF16":
            {
                // bfloat16 is the upper half of a float32, so widening is a shift.
                var result = new float[Data.Length / 2];
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(Data.AsSpan(2 * i)) << 16);
                }
                return result;
            }
            default:
                throw WrongDType(nameof(ToSingles), "F32, F16 or BF16");
        }
    }

    /// <summary>The elements as doubles. Accepts F64 and, widening exactly, F32, F16 and BF16.</summary>
    /// <exception cref="InvalidOperationException">The dtype is not a floating-point one.</exception>
    public double[] ToDoubles()
    {
        if (DType == "F64")
        {
            return FromLittleEndianBytes<double>(Data);
        }
        if (DType is not ("F32" or "F16" or "BF16"))
        {
            throw WrongDType(nameof(ToDoubles), "F64, F32, F16 or BF16");
        }
        float[] singles = ToSingles();
        var result = new double[singles.Length];
        for (int i = 0; i < singles.Length; i++)
        {
            result[i] = singles[i];
        }
        return result;
    }

    /// <summary>The elements as longs. Accepts I64 and, widening exactly, I32, I16, I8, U32, U16 and U8.</summary>
    /// <exception cref="InvalidOperationException">The dtype is not one of those (U64 is refused: it may not fit).</exception>
    public long[] ToInt64s()
    {
        if (DType == "I64")
        {
            return FromLittleEndianBytes<long>(Data);
        }
        Func<ReadOnlySpan<byte>, long> read = DType switch
        {
            "I32" => b => BinaryPrimitives.ReadInt32LittleEndian(b),
            "U32" => b => BinaryPrimitives.ReadUInt32LittleEndian(b),
            "I16" => b => BinaryPrimitives.ReadInt16LittleEndian(b),
            "U16" => b => BinaryPrimitives.ReadUInt16LittleEndian(b),
            "I8" => b => (sbyte)b[0],
            "U8" => b => b[0],
            _ => throw WrongDType(nameof(ToInt64s), "I64, I32, I16, I8, U32, U16 or U8"),
        };
        int size = ElementSize(DType);
        var result = new long[Data.Length / size];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = read(Data.AsSpan(i * size, size));
        }
        return result;
    }

    private InvalidOperationException WrongDType(string method, string accepted) =>
        new($"{method} needs a tensor of dtype {accepted}, but this one is {DType}.");

    private static byte[] ToLittleEndianBytes<T>(T[] data)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        byte[] bytes = MemoryMarshal.AsBytes(data.AsSpan()).ToArray();
        ReverseElementBytesOnBigEndian<T>(bytes);
        return bytes;
    }

    private static T[] FromLittleEndianBytes<T>(byte[] bytes)
        where T : unmanaged
    {
        var result = new T[bytes.Length / Unsafe.SizeOf<T>()];
        Span<byte> target = MemoryMarshal.AsBytes(result.AsSpan());
        bytes.CopyTo(target);
        ReverseElementBytesOnBigEndian<T>(target);
        return result;
    }

    /// <summary>The format is little-endian; on a big-endian machine the native bytes of every element are reversed.</summary>
    private static void ReverseElementBytesOnBigEndian<T>(Span<byte> bytes)
        where T : unmanaged
    {
        if (BitConverter.IsLittleEndian)
        {
            return;
        }
        switch (Unsafe.SizeOf<T>())
        {
            case 4:
            {
                Span<uint> elements = MemoryMarshal.Cast<byte, uint>(bytes);
                BinaryPrimitives.ReverseEndianness(elements, elements);
                break;
            }
            case 8:
            {
                Span<ulong> elements = MemoryMarshal.Cast<byte, ulong>(bytes);
                BinaryPrimitives.ReverseEndianness(elements, elements);
                break;
            }
            default:
                throw new NotSupportedException($"No byte-order conversion for {typeof(T)}.");
        }
    }
}
