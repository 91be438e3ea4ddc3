using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Nabla.Serialization;
using Xunit;

namespace Nabla.Tests.Serialization;

public sealed class SafetensorsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "nabla-safetensors-" + Guid.NewGuid().ToString("N"));

    public SafetensorsTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathFor(string name) => Path.Combine(_dir, name);

    /// <summary>A safetensors file assembled by hand: length prefix, header text exactly as given, buffer.</summary>
    private static byte[] FileBytes(string header, byte[] buffer)
    {
        byte[] headerBytes = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + headerBytes.Length + buffer.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)headerBytes.Length);
        headerBytes.CopyTo(file, 8);
        buffer.CopyTo(file, 8 + headerBytes.Length);
        return file;
    }

    private static Dictionary<string, SafetensorsEntry> SampleTensors() => new()
    {
        ["weight"] = SafetensorsEntry.FromSingles([1.5f, -2f, 3.25f, 0f, float.MaxValue, float.Epsilon], [2, 3]),
        ["bias"] = SafetensorsEntry.FromSingles([0.5f, -0.5f], [2]),
        ["step"] = SafetensorsEntry.FromInt64s([long.MinValue + 1], []),
        ["running_var"] = SafetensorsEntry.FromDoubles([Math.PI, -Math.E, double.NaN], [3, 1]),
        ["mask"] = new SafetensorsEntry("BOOL", [3], [1, 0, 1]),
        ["pixels"] = new SafetensorsEntry("U8", [1, 2], [0, 255]),
        ["half"] = new SafetensorsEntry("F16", [2], [0x00, 0x3C, 0x00, 0xC0]), // 1.0, -2.0
        ["empty"] = SafetensorsEntry.FromSingles([], [0, 4]),
    };

    [Fact]
    public void SaveThenLoad_RoundTripsTensorsAndMetadata()
    {
        string path = PathFor("model.safetensors");
        Dictionary<string, SafetensorsEntry> tensors = SampleTensors();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcødé \"quoted\"" };

        Safetensors.Save(path, tensors, metadata);
        SafetensorsFile loaded = Safetensors.Load(path);

        Assert.Equal(metadata, loaded.Metadata);
        Assert.Equal(tensors.Keys.Order(), loaded.Tensors.Keys.Order());
        foreach ((string name, SafetensorsEntry expected) in tensors)
        {
            SafetensorsEntry actual = loaded.Tensors[name];
            Assert.Equal(expected.DType, actual.DType);
            Assert.Equal(expected.Shape, actual.Shape);
            Assert.Equal(expected.Data, actual.Data);
        }
        Assert.Equal([1.5f, -2f, 3.25f, 0f, float.MaxValue, float.Epsilon], loaded.Tensors["weight"].ToSingles());
        Assert.Equal([long.MinValue + 1], loaded.Tensors["step"].ToInt64s());
        Assert.Equal([Math.PI, -Math.E, double.NaN], loaded.Tensors["running_var"].ToDoubles());
        Assert.Equal([1f, -2f], loaded.Tensors["half"].ToSingles());
    }

    [Fact]
    public void Save_WithoutMetadata_LoadsEmptyMetadata_AndEmptyFileRoundTrips()
    {
        string path = PathFor("empty.safetensors");
        Safetensors.Save(path, new Dictionary<string, SafetensorsEntry>());
        SafetensorsFile loaded = Safetensors.Load(path);
        Assert.Empty(loaded.Tensors);
        Assert.Empty(loaded.Metadata);
        // The spec's smallest file: "{}" padded with spaces to 8 bytes.
        Assert.Equal(FileBytes("{}      ", []), File.ReadAllBytes(path));
    }

    [Fact]
    public void Save_ProducesTheCanonicalBytes()
    {
        // One F32 tensor of shape [1, 2, 3] holding 0..5: compact JSON, here already a multiple of 8 bytes long.
        string path = PathFor("canonical.safetensors");
        Safetensors.Save(path, new Dictionary<string, SafetensorsEntry>
        {
            ["attn.0"] = SafetensorsEntry.FromSingles([0, 1, 2, 3, 4, 5], [1, 2, 3]),
        });
        byte[] data = new byte[24];
        for (int i = 0; i < 6; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4 * i), i);
        }
        Assert.Equal(FileBytes("""{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}""", data), File.ReadAllBytes(path));

        // Metadata comes first and the header is padded with spaces.
        Safetensors.Save(path, new Dictionary<string, SafetensorsEntry>(), new Dictionary<string, string> { ["framework"] = "pt" });
        Assert.Equal(FileBytes("""{"__metadata__":{"framework":"pt"}}     """, []), File.ReadAllBytes(path));
    }

    [Fact]
    public void Save_OutputIsReadableByIndependentSpecReader()
    {
        string path = PathFor("spec.safetensors");
        Dictionary<string, SafetensorsEntry> tensors = SampleTensors();
        Safetensors.Save(path, tensors, new Dictionary<string, string> { ["k"] = "v" });

        // Read the file following the spec alone.
        byte[] file = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.Equal(0UL, n % 8); // data aligned to 8 in the file
        string header = Encoding.UTF8.GetString(file, 8, (int)n);
        Assert.StartsWith("{", header);
        Assert.Equal(header.TrimEnd(' ').Length, header.TrimEnd().Length); // padding is spaces only
        int bufferStart = 8 + (int)n;
        int bufferLength = file.Length - bufferStart;

        using JsonDocument doc = JsonDocument.Parse(header);
        Assert.Equal("v", doc.RootElement.GetProperty("__metadata__").GetProperty("k").GetString());
        var layout = new List<(string Name, string DType, int Begin, int End)>();
        foreach (JsonProperty p in doc.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__"))
        {
            string dtype = p.Value.GetProperty("dtype").GetString()!;
            long[] shape = p.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            int[] offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt32()).ToArray();
            SafetensorsEntry expected = tensors[p.Name];
            Assert.Equal(expected.DType, dtype);
            Assert.Equal(expected.Shape, shape);
            Assert.Equal(expected.Data, file.AsSpan(bufferStart + offsets[0], offsets[1] - offsets[0]).ToArray());
            Assert.Equal(0, (bufferStart + offsets[0]) % SafetensorsEntry.ElementSize(dtype)); // every tensor aligned
            layout.Add((p.Name, dtype, offsets[0], offsets[1]));
        }
        Assert.Equal(tensors.Count, layout.Count);

        // Laid out in header order, contiguously from 0 to the end of the file.
        Assert.Equal(0, layout[0].Begin);
        for (int i = 1; i < layout.Count; i++)
        {
            Assert.Equal(layout[i - 1].End, layout[i].Begin);
        }
        Assert.Equal(bufferLength, layout[^1].End);

        // Deterministic order: by descending alignment, then by name.
        Assert.Equal(["step", "running_var", "bias", "empty", "weight", "half", "pixels", "mask"], layout.Select(t => t.Name));
    }

    [Fact]
    public void Save_IsDeterministic_RegardlessOfDictionaryOrder()
    {
        Dictionary<string, SafetensorsEntry> tensors = SampleTensors();
        var reversed = new Dictionary<string, SafetensorsEntry>(tensors.Reverse());
        Safetensors.Save(PathFor("a.safetensors"), tensors);
        Safetensors.Save(PathFor("b.safetensors"), reversed);
        Assert.Equal(File.ReadAllBytes(PathFor("a.safetensors")), File.ReadAllBytes(PathFor("b.safetensors")));
    }

    [Fact]
    public void Load_HandBuiltFile_InAnyHeaderOrderAndUnpadded()
    {
        var buffer = new byte[8 + 12];
        BinaryPrimitives.WriteInt64LittleEndian(buffer, -42);
        BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(8), 1f);
        BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(12), -0.25f);
        BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(16), 1e-30f);
        // Key order, whitespace and tensor order deliberately differ from what Save writes.
        string header = """
            { "b": {"data_offsets": [8, 20], "shape": [3, 1], "dtype": "F32"},
              "a": {"shape": [], "dtype": "I64", "data_offsets": [0, 8]},
              "__metadata__": {"source": "hand"} }
            """;
        string path = PathFor("hand.safetensors");
        File.WriteAllBytes(path, FileBytes(header, buffer));

        SafetensorsFile loaded = Safetensors.Load(path);

        Assert.Equal("hand", loaded.Metadata["source"]);
        Assert.Equal([-42L], loaded.Tensors["a"].ToInt64s());
        Assert.Empty(loaded.Tensors["a"].Shape);
        Assert.Equal([3L, 1L], loaded.Tensors["b"].Shape);
        Assert.Equal([1f, -0.25f, 1e-30f], loaded.Tensors["b"].ToSingles());
    }

    [Theory]
    [InlineData("{not json", 0, "not valid JSON")]
    [InlineData("[1, 2]", 0, "the header is a JSON array, not an object")]
    [InlineData("""{"t": [1]}""", 0, "tensor 't' is a JSON array, not an object")]
    [InlineData("""{"t": {"shape": [1], "data_offsets": [0, 4]}}""", 4, "tensor 't' has no \"dtype\"")]
    [InlineData("""{"t": {"dtype": 3, "shape": [1], "data_offsets": [0, 4]}}""", 4, "\"dtype\" that is a JSON number, not a string")]
    [InlineData("""{"t": {"dtype": "F32", "data_offsets": [0, 4]}}""", 4, "tensor 't' has no \"shape\"")]
    [InlineData("""{"t": {"dtype": "F32", "shape": [1]}}""", 4, "tensor 't' has no \"data_offsets\"")]
    [InlineData("""{"t": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 4]}}""", 4, "tensor 't' has unknown dtype 'Q4'")]
    [InlineData("""{"t": {"dtype": "F32", "shape": [2, -1], "data_offsets": [0, 4]}}""", 4, "tensor 't' has a negative dimension in shape [2, -1]")]
    [InlineData("""{"t": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}""", 4, "\"shape\" element 1.5 that is not an integer")]
    [InlineData("""{"t": {"dtype": "F32", "shape": "2", "data_offsets": [0, 4]}}""", 4, "\"shape\" that is a JSON string, not an array")]
    [InlineData("""{"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}}""", 8, "tensor 't' has 3 data_offsets, expected 2")]
    [InlineData("""{"t": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}""", 8, "data_offsets [8, 4], which is not a valid range")]
    [InlineData("""{"t": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}}""", 20, "spanning 20 bytes, but shape [2, 3] of dtype F32 needs 24 bytes")]
    [InlineData("""{"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}""", 4, "data_offsets [0, 8] beyond the end of the 4-byte data buffer")]
    [InlineData("""{"t": {"dtype": "U8", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 4]}}""", 4, "overflows")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}""", 12,
        "tensor 'b' at data_offsets [4, 12] overlaps tensor 'a', which ends at 8")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}""", 12,
        "bytes [4, 8) of the data buffer belong to no tensor (a gap before tensor 'b')")]
    [InlineData("""{"b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}""", 8, "bytes [0, 4) of the data buffer belong to no tensor")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}""", 6, "2 trailing bytes after the last tensor")]
    [InlineData("""{}""", 3, "3 trailing bytes after the last tensor")]
    [InlineData("""{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}""", 2,
        "the key 'a' more than once")]
    [InlineData("""{"__metadata__": {"epoch": 3}}""", 0, "'__metadata__' value for key 'epoch' is a JSON number, not a string")]
    [InlineData("""{"__metadata__": "x"}""", 0, "'__metadata__' is a JSON string, not an object of strings")]
    public void Load_CorruptHeader_ThrowsInvalidDataNamingFileAndProblem(string header, int bufferLength, string expectedProblem)
    {
        string path = PathFor("corrupt.safetensors");
        File.WriteAllBytes(path, FileBytes(header, new byte[bufferLength]));

        var e = Assert.Throws<InvalidDataException>(() => Safetensors.Load(path));

        Assert.Contains(path, e.Message);
        Assert.Contains(expectedProblem, e.Message);
    }

    [Theory]
    [InlineData(new byte[] { }, "the file is 0 bytes long, too short for the 8-byte header length")]
    [InlineData(new byte[] { 1, 2, 3 }, "the file is 3 bytes long, too short")]
    [InlineData(new byte[] { 0x00, 0xC2, 0xEB, 0x0B, 0, 0, 0, 0, (byte)'{', (byte)'}' }, "the header length 200000000 exceeds the 100000000-byte limit")]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF }, "the header length 18446744073709551615 exceeds")]
    [InlineData(new byte[] { 100, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'}' }, "the header length 100 runs past the end of the file (10 bytes)")]
    [InlineData(new byte[] { 2, 0, 0, 0, 0, 0, 0, 0, (byte)'{', 0xFF }, "not valid JSON")] // invalid UTF-8
    [InlineData(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0 }, "not valid JSON")] // empty header
    public void Load_CorruptPrefix_ThrowsInvalidDataNamingFileAndProblem(byte[] content, string expectedProblem)
    {
        string path = PathFor("bad-prefix.safetensors");
        File.WriteAllBytes(path, content);

        var e = Assert.Throws<InvalidDataException>(() => Safetensors.Load(path));

        Assert.Contains(path, e.Message);
        Assert.Contains(expectedProblem, e.Message);
    }

    [Fact]
    public void Load_MissingFile_ThrowsFileNotFoundNamingPath()
    {
        string path = PathFor("absent.safetensors");
        var e = Assert.Throws<FileNotFoundException>(() => Safetensors.Load(path));
        Assert.Contains(path, e.Message);

        string inMissingDir = PathFor(Path.Combine("no-such-dir", "absent.safetensors"));
        e = Assert.Throws<FileNotFoundException>(() => Safetensors.Load(inMissingDir));
        Assert.Contains(inMissingDir, e.Message);
    }

    [Fact]
    public void Load_ZeroSizedTensorsSharingAnOffset_AreAccepted()
    {
        string path = PathFor("zeros.safetensors");
        string header = """
            {"z1": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]},
             "z2": {"dtype": "F64", "shape": [3, 0], "data_offsets": [0, 0]},
             "x": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}
            """;
        File.WriteAllBytes(path, FileBytes(header, [9, 8]));

        SafetensorsFile loaded = Safetensors.Load(path);

        Assert.Empty(loaded.Tensors["z1"].Data);
        Assert.Equal([3L, 0L], loaded.Tensors["z2"].Shape);
        Assert.Equal([9L, 8L], loaded.Tensors["x"].ToInt64s());
    }

    [Fact]
    public void Save_OverExistingFile_ReplacesItAndLeavesNoTempFiles()
    {
        string path = PathFor("ckpt.safetensors");
        Safetensors.Save(path, SampleTensors());
        Safetensors.Save(path, new Dictionary<string, SafetensorsEntry> { ["only"] = SafetensorsEntry.FromDoubles([1], [1]) });

        Assert.Equal(["only"], Safetensors.Load(path).Tensors.Keys);
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    [Fact]
    public void Save_RejectsReservedName()
    {
        var tensors = new Dictionary<string, SafetensorsEntry> { ["__metadata__"] = SafetensorsEntry.FromSingles([1], [1]) };
        Assert.Throws<ArgumentException>(() => Safetensors.Save(PathFor("x.safetensors"), tensors));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Entry_RejectsInconsistentArguments()
    {
        Assert.Throws<ArgumentException>(() => new SafetensorsEntry("F32", [2], new byte[4]));
        Assert.Throws<ArgumentException>(() => new SafetensorsEntry("F32", [-1], []));
        Assert.Throws<ArgumentException>(() => new SafetensorsEntry("float32", [1], new byte[4]));
        Assert.Throws<ArgumentException>(() => SafetensorsEntry.FromSingles([1, 2, 3], [2, 2]));
        Assert.Throws<ArgumentException>(() => SafetensorsEntry.ElementSize("Q4"));
    }

    [Fact]
    public void Entry_ElementSizesAndCounts()
    {
        Assert.Equal(8, SafetensorsEntry.ElementSize("F64"));
        Assert.Equal(4, SafetensorsEntry.ElementSize("F32"));
        Assert.Equal(2, SafetensorsEntry.ElementSize("BF16"));
        Assert.Equal(1, SafetensorsEntry.ElementSize("BOOL"));
        Assert.Equal(6, SafetensorsEntry.FromSingles(new float[6], [2, 3]).ElementCount);
        Assert.Equal(1, SafetensorsEntry.FromSingles([7], []).ElementCount);
        Assert.Equal(0, SafetensorsEntry.FromSingles([], [5, 0]).ElementCount);
    }

    [Fact]
    public void TypedFactories_WriteLittleEndianBytes()
    {
        Assert.Equal([0x00, 0x00, 0x80, 0x3F], SafetensorsEntry.FromSingles([1f], [1]).Data);
        Assert.Equal([0, 0, 0, 0, 0, 0, 0xF0, 0x3F], SafetensorsEntry.FromDoubles([1.0], [1]).Data);
        Assert.Equal([0x02, 0x01, 0, 0, 0, 0, 0, 0x80], SafetensorsEntry.FromInt64s([long.MinValue + 0x0102], [1]).Data);
    }

    [Fact]
    public void TypedAccessors_WidenExactly_AndRefuseOtherDTypes()
    {
        // bfloat16 0x3FC0 is 1.5; 0xC040 is -3.
        var bf16 = new SafetensorsEntry("BF16", [2], [0xC0, 0x3F, 0x40, 0xC0]);
        Assert.Equal([1.5f, -3f], bf16.ToSingles());
        Assert.Equal([1.5, -3.0], bf16.ToDoubles());
        Assert.Equal([0.1f], SafetensorsEntry.FromSingles([0.1f], [1]).ToSingles());
        Assert.Equal([(double)0.1f], SafetensorsEntry.FromSingles([0.1f], [1]).ToDoubles());

        var i32 = new SafetensorsEntry("I32", [2], [0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x80]);
        Assert.Equal([-1L, int.MinValue], i32.ToInt64s());
        Assert.Equal([255L, 1L], new SafetensorsEntry("U8", [2], [255, 1]).ToInt64s());
        Assert.Equal([-1L, 1L], new SafetensorsEntry("I8", [2], [255, 1]).ToInt64s());
        Assert.Equal([4294967295L], new SafetensorsEntry("U32", [1], [0xFF, 0xFF, 0xFF, 0xFF]).ToInt64s());

        Assert.Throws<InvalidOperationException>(() => i32.ToSingles());
        Assert.Throws<InvalidOperationException>(() => i32.ToDoubles());
        Assert.Throws<InvalidOperationException>(() => bf16.ToInt64s());
        Assert.Throws<InvalidOperationException>(() => new SafetensorsEntry("U64", [1], new byte[8]).ToInt64s());
    }
}
