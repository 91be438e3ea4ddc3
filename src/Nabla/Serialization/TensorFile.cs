using Nabla.Kernels;

namespace Nabla.Serialization;

/// <summary>
/// Named tensors in the safetensors format: the file format for model weights (readable by any safetensors
/// reader, PyTorch's names kept) and, with prefixes, for whole training checkpoints.
/// </summary>
public static class TensorFile
{
    /// <summary>Writes the tensors atomically (temporary file, flush, rename).</summary>
    public static void Save(string path, IEnumerable<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var entries = new Dictionary<string, SafetensorsEntry>();
        foreach (var (name, t) in tensors)
            if (!entries.TryAdd(name, ToEntry(t))) throw new ArgumentException($"TensorFile.Save: duplicate tensor name '{name}'");
        Safetensors.Save(path, entries, metadata);
    }

    /// <summary>Reads every tensor and the metadata; corrupt files raise InvalidDataException naming the file.</summary>
    public static (Dictionary<string, Tensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Load(string path)
    {
        var file = Safetensors.Load(path);
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, entry) in file.Tensors) tensors[name] = FromEntry(entry, $"{path}: tensor '{name}'");
        return (tensors, file.Metadata);
    }

    public static SafetensorsEntry ToEntry(Tensor t)
    {
        long[] shape = Array.ConvertAll(t.Shape, d => (long)d);
        return t.DType switch
        {
            DType.Float32 => SafetensorsEntry.FromSingles(t.ToArray<float>(), shape),
            DType.Float64 => SafetensorsEntry.FromDoubles(t.ToArray<double>(), shape),
            DType.Int64 => SafetensorsEntry.FromInt64s(t.ToArray<long>(), shape),
            _ => new SafetensorsEntry("BOOL", shape, Array.ConvertAll(t.ToArray<bool>(), b => b ? (byte)1 : (byte)0)),
        };
    }

    public static Tensor FromEntry(SafetensorsEntry e, string what)
    {
        int[] shape = Array.ConvertAll(e.Shape, d => d <= int.MaxValue ? (int)d : throw new InvalidDataException($"{what}: dimension {d} is too large"));
        return e.DType switch
        {
            "F32" or "F16" or "BF16" => Tensor.Wrap(e.ToSingles(), DType.Float32, shape, what),
            "F64" => Tensor.Wrap(e.ToDoubles(), DType.Float64, shape, what),
            "I64" or "I32" or "I16" or "I8" or "U8" => Tensor.Wrap(e.ToInt64s(), DType.Int64, shape, what),
            "BOOL" => Tensor.Wrap((byte[])e.Data.Clone(), DType.Bool, shape, what),
            _ => throw new InvalidDataException($"{what}: dtype {e.DType} is not supported"),
        };
    }
}
