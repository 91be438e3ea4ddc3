using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Nabla.Serialization;

/// <summary>The contents of a safetensors file: tensors by name (in file order) and the free-form string metadata.</summary>
public sealed record SafetensorsFile(IReadOnlyDictionary<string, SafetensorsEntry> Tensors, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// mapping tensor names to <c>{"dtype", "shape", "data_offsets"}</c> (plus an optional <c>"__metadata__"</c>
/// object of strings), then the tensors' little-endian bytes, with offsets relative to the end of the header.
/// </summary>
public static class Safetensors
{
    /// <summary>The reference implementation refuses larger headers; a bigger length means a corrupt or foreign file.</summary>
    public const long MaxHeaderLength = 100_000_000;

    private const string MetadataKey = "__metadata__";

    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="path"/>, replacing it atomically (see <see cref="AtomicFile"/>).
    /// </summary>
    /// <remarks>
    /// Like the reference implementation, tensors are laid out by descending dtype alignment and then by name
    /// (ordinal), contiguously; the header is padded with spaces to a multiple of 8 bytes. Together this keeps every
    /// tensor's data aligned to its element size and makes the output a deterministic function of the input.
    /// </remarks>
    /// <exception cref="ArgumentException">A tensor is named <c>__metadata__</c> or is null.</exception>
    public static void Save(string path, IReadOnlyDictionary<string, SafetensorsEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        foreach ((string name, SafetensorsEntry entry) in tensors)
        {
            if (name == MetadataKey)
            {
                throw new ArgumentException($"'{MetadataKey}' is reserved for the metadata and cannot name a tensor.", nameof(tensors));
            }
            if (entry is null)
            {
                throw new ArgumentException($"Tensor '{name}' is null.", nameof(tensors));
            }
        }

        KeyValuePair<string, SafetensorsEntry>[] ordered = tensors
            .OrderByDescending(t => SafetensorsEntry.AlignmentRank(t.Value.DType))
            .ThenBy(t => t.Key, StringComparer.Ordinal)
            .ToArray();
        byte[] header = BuildHeader(ordered, metadata);

        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach ((_, SafetensorsEntry entry) in ordered)
            {
                stream.Write(entry.Data);
            }
        });
    }

    /// <summary>Reads and fully validates a safetensors file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is malformed; the message names the file and the problem.</exception>
    /// <exception cref="NotSupportedException">A tensor is larger than a .NET array can hold.</exception>
    public static SafetensorsFile Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        // Checked up front so a missing directory also reports FileNotFoundException, not DirectoryNotFoundException.
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Safetensors file not found: '{path}'.", path);
        }
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        long fileLength = stream.Length;
        if (fileLength < 8)
        {
            throw Invalid(path, $"the file is {fileLength} bytes long, too short for the 8-byte header length");
        }

        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderLength)
        {
            throw Invalid(path, $"the header length {headerLength} exceeds the {MaxHeaderLength}-byte limit (corrupt file, or not a safetensors file)");
        }
        if ((long)headerLength > fileLength - 8)
        {
            throw Invalid(path, $"the header length {headerLength} runs past the end of the file ({fileLength} bytes)");
        }
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        long bufferLength = fileLength - 8 - (long)headerLength;

        (List<TensorLayout> layouts, Dictionary<string, string> metadata) = ParseHeader(path, header, bufferLength);
        CheckCoverage(path, layouts, bufferLength);

        // Coverage is contiguous and sorted by offset, so the buffer is read front to back.
        var tensors = new Dictionary<string, SafetensorsEntry>(layouts.Count, StringComparer.Ordinal);
        foreach (TensorLayout t in layouts)
        {
            long size = t.End - t.Begin;
            if (size > Array.MaxLength)
            {
                throw new NotSupportedException($"Cannot load '{path}': tensor '{t.Name}' has {size} bytes, more than a .NET array can hold.");
            }
            var data = new byte[size];
            stream.ReadExactly(data);
            tensors.Add(t.Name, new SafetensorsEntry(t.DType, t.Shape, data));
        }
        return new SafetensorsFile(tensors, metadata);
    }

    private static byte[] BuildHeader(KeyValuePair<string, SafetensorsEntry>[] ordered, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        // The relaxed encoder writes non-ASCII names as UTF-8 rather than \u escapes, as the reference does.
        // (The stricter default exists to make JSON safe inside HTML, which does not apply to a file header.)
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject(MetadataKey);
                foreach ((string key, string value) in metadata.OrderBy(m => m.Key, StringComparer.Ordinal))
                {
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }
            long offset = 0;
            foreach ((string name, SafetensorsEntry entry) in ordered)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", entry.DType);
                json.WriteStartArray("shape");
                foreach (long d in entry.Shape)
                {
                    json.WriteNumberValue(d);
                }
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += entry.Data.Length;
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }

        // Padding the header to a multiple of 8 makes the data buffer start 8-aligned within the file.
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        byte[] header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    /// <summary>A tensor's header entry, checked against its own shape and the buffer size but not yet against its neighbours.</summary>
    private sealed record TensorLayout(string Name, string DType, long[] Shape, long Begin, long End);

    private static (List<TensorLayout> Layouts, Dictionary<string, string> Metadata) ParseHeader(string path, byte[] header, long bufferLength)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw Invalid(path, $"the header is not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(path, $"the header is a JSON {Describe(root.ValueKind)}, not an object");
            }
            var layouts = new List<TensorLayout>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in root.EnumerateObject())
            {
                // JsonDocument keeps duplicate keys; a file that names a tensor twice is ambiguous.
                if (!seen.Add(property.Name))
                {
                    throw Invalid(path, $"the header has the key '{property.Name}' more than once");
                }
                if (property.Name == MetadataKey)
                {
                    ParseMetadata(path, property.Value, metadata);
                }
                else
                {
                    layouts.Add(ParseTensor(path, property.Name, property.Value, bufferLength));
                }
            }
            return (layouts, metadata);
        }
    }

    private static void ParseMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(path, $"'{MetadataKey}' is a JSON {Describe(value.ValueKind)}, not an object of strings");
        }
        foreach (JsonProperty item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw Invalid(path, $"'{MetadataKey}' value for key '{item.Name}' is a JSON {Describe(item.Value.ValueKind)}, not a string");
            }
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
            {
                throw Invalid(path, $"'{MetadataKey}' has the key '{item.Name}' more than once");
            }
        }
    }

    private static TensorLayout ParseTensor(string path, string name, JsonElement value, long bufferLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(path, $"tensor '{name}' is a JSON {Describe(value.ValueKind)}, not an object with dtype, shape and data_offsets");
        }

        if (!value.TryGetProperty("dtype", out JsonElement dtypeElement))
        {
            throw Invalid(path, $"tensor '{name}' has no \"dtype\"");
        }
        if (dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw Invalid(path, $"tensor '{name}' has a \"dtype\" that is a JSON {Describe(dtypeElement.ValueKind)}, not a string");
        }
        string dtype = dtypeElement.GetString()!;
        if (!SafetensorsEntry.IsSupportedDType(dtype))
        {
            throw Invalid(path, $"tensor '{name}' has unknown dtype '{dtype}' (supported: {SafetensorsEntry.SupportedDTypeList})");
        }

        long[] shape = ReadIntegerArray(path, name, value, "shape");
        foreach (long d in shape)
        {
            if (d < 0)
            {
                throw Invalid(path, $"tensor '{name}' has a negative dimension in shape [{string.Join(", ", shape)}]");
            }
        }

        long[] offsets = ReadIntegerArray(path, name, value, "data_offsets");
        if (offsets.Length != 2)
        {
            throw Invalid(path, $"tensor '{name}' has {offsets.Length} data_offsets, expected 2 (begin, end)");
        }
        (long begin, long end) = (offsets[0], offsets[1]);
        if (begin < 0 || end < begin)
        {
            throw Invalid(path, $"tensor '{name}' has data_offsets [{begin}, {end}], which is not a valid range");
        }
        if (end > bufferLength)
        {
            throw Invalid(path, $"tensor '{name}' has data_offsets [{begin}, {end}] beyond the end of the {bufferLength}-byte data buffer");
        }
        long? needed = SafetensorsEntry.ByteCount(dtype, shape);
        if (needed is null)
        {
            throw Invalid(path, $"tensor '{name}' has shape [{string.Join(", ", shape)}] whose size in bytes overflows");
        }
        if (needed != end - begin)
        {
            throw Invalid(path,
                $"tensor '{name}' has data_offsets [{begin}, {end}] spanning {end - begin} bytes, but shape [{string.Join(", ", shape)}] of dtype {dtype} needs {needed} bytes");
        }
        return new TensorLayout(name, dtype, shape, begin, end);
    }

    private static long[] ReadIntegerArray(string path, string tensorName, JsonElement tensor, string field)
    {
        if (!tensor.TryGetProperty(field, out JsonElement array))
        {
            throw Invalid(path, $"tensor '{tensorName}' has no \"{field}\"");
        }
        if (array.ValueKind != JsonValueKind.Array)
        {
            throw Invalid(path, $"tensor '{tensorName}' has a \"{field}\" that is a JSON {Describe(array.ValueKind)}, not an array of integers");
        }
        var result = new long[array.GetArrayLength()];
        int i = 0;
        foreach (JsonElement item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out result[i]))
            {
                throw Invalid(path, $"tensor '{tensorName}' has a \"{field}\" element {item.GetRawText()} that is not an integer");
            }
            i++;
        }
        return result;
    }

    /// <summary>
    /// The spec requires the tensors to index the whole data buffer exactly once: no overlaps, no holes, nothing after the last tensor.
    /// Sorts <paramref name="layouts"/> by offset.
    /// </summary>
    private static void CheckCoverage(string path, List<TensorLayout> layouts, long bufferLength)
    {
        layouts.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long covered = 0;
        string? previous = null;
        foreach (TensorLayout t in layouts)
        {
            if (t.Begin > covered)
            {
                throw Invalid(path, $"bytes [{covered}, {t.Begin}) of the data buffer belong to no tensor (a gap before tensor '{t.Name}')");
            }
            if (t.Begin < covered)
            {
                throw Invalid(path, $"tensor '{t.Name}' at data_offsets [{t.Begin}, {t.End}] overlaps tensor '{previous}', which ends at {covered}");
            }
            covered = t.End;
            previous = t.Name;
        }
        if (covered != bufferLength)
        {
            throw Invalid(path,
                $"{bufferLength - covered} trailing bytes after the last tensor (the tensors cover {covered} bytes of the {bufferLength}-byte data buffer)");
        }
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };

    private static InvalidDataException Invalid(string path, string problem, Exception? inner = null) =>
        new($"Invalid safetensors file '{path}': {problem.TrimEnd('.')}.", inner);
}
