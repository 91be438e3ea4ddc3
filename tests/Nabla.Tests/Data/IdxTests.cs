using System.Buffers.Binary;
using System.IO.Compression;
using Nabla.Data;
using Xunit;

namespace Nabla.Tests.Data;

public sealed class IdxTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "nabla-idx-" + Guid.NewGuid().ToString("N"));

    public IdxTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathFor(string name) => Path.Combine(_dir, name);

    /// <summary>IDX bytes assembled by hand from the format description.</summary>
    private static byte[] IdxBytes(byte typeCode, int[] dims, byte[] data)
    {
        var file = new byte[4 + 4 * dims.Length + data.Length];
        file[2] = typeCode;
        file[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(4 + 4 * i), dims[i]);
        }
        data.CopyTo(file, 4 + 4 * dims.Length);
        return file;
    }

    private static byte[] Gzip(byte[] raw)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(raw);
        }
        return output.ToArray();
    }

    private InvalidDataException ReadCorrupt(byte[] content, string fileName = "corrupt-idx")
    {
        string path = PathFor(fileName);
        File.WriteAllBytes(path, content);
        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(path));
        Assert.Contains(path, e.Message);
        return e;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Read_HandBuiltMnistLikeFiles(bool gzip)
    {
        // Three 2×2 "images" and their labels, as in train-images-idx3-ubyte / train-labels-idx1-ubyte.
        byte[] pixels = [0, 255, 128, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        byte[] images = IdxBytes(0x08, [3, 2, 2], pixels);
        byte[] labels = IdxBytes(0x08, [3], [7, 2, 1]);
        File.WriteAllBytes(PathFor("images"), gzip ? Gzip(images) : images);
        File.WriteAllBytes(PathFor("labels"), gzip ? Gzip(labels) : labels);

        IdxArray imageArray = Idx.Read(PathFor("images"));
        IdxArray labelArray = Idx.Read(PathFor("labels"));

        Assert.Equal(IdxType.UnsignedByte, imageArray.Type);
        Assert.Equal([3, 2, 2], imageArray.Dims);
        Assert.Equal(12, imageArray.ElementCount);
        Assert.Equal(pixels, imageArray.AsBytes());
        Assert.Equal(pixels.Select(p => (double)p), imageArray.AsDoubles());
        Assert.Equal([3], labelArray.Dims);
        Assert.Equal([7, 2, 1], labelArray.AsBytes());
    }

    [Fact]
    public void Read_HandBuiltBigEndianTypes()
    {
        var ints = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(ints, -2);
        BinaryPrimitives.WriteInt32BigEndian(ints.AsSpan(4), 70000);
        File.WriteAllBytes(PathFor("ints"), IdxBytes(0x0C, [2], ints));
        Assert.Equal([-2.0, 70000.0], Idx.Read(PathFor("ints")).AsDoubles());

        File.WriteAllBytes(PathFor("floats"), IdxBytes(0x0D, [1, 1], [0x3F, 0xC0, 0x00, 0x00])); // 1.5f
        Assert.Equal([1.5], Idx.Read(PathFor("floats")).AsDoubles());

        File.WriteAllBytes(PathFor("doubles"), IdxBytes(0x0E, [1], [0xC0, 0x08, 0, 0, 0, 0, 0, 0])); // -3.0
        Assert.Equal([-3.0], Idx.Read(PathFor("doubles")).AsDoubles());

        File.WriteAllBytes(PathFor("shorts"), IdxBytes(0x0B, [2], [0xFF, 0xFE, 0x01, 0x00])); // -2, 256
        Assert.Equal([-2.0, 256.0], Idx.Read(PathFor("shorts")).AsDoubles());

        File.WriteAllBytes(PathFor("sbytes"), IdxBytes(0x09, [2], [0xFF, 0x7F]));
        Assert.Equal([-1.0, 127.0], Idx.Read(PathFor("sbytes")).AsDoubles());
    }

    public static TheoryData<IdxType, bool> AllTypesRawAndGzip()
    {
        var data = new TheoryData<IdxType, bool>();
        foreach (IdxType type in Enum.GetValues<IdxType>())
        {
            data.Add(type, false);
            data.Add(type, true);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(AllTypesRawAndGzip))]
    public void WriteThenRead_RoundTrips(IdxType type, bool gzip)
    {
        int[] dims = [2, 3, 5];
        var data = new byte[30 * Idx.ElementSize(type)];
        new Random(42).NextBytes(data);
        string path = PathFor($"roundtrip-{type}-{gzip}");

        Idx.Write(path, type, dims, data, gzip);
        IdxArray read = Idx.Read(path);

        Assert.Equal(type, read.Type);
        Assert.Equal(dims, read.Dims);
        Assert.Equal(data, read.RawBigEndian);
        byte[] onDisk = File.ReadAllBytes(path);
        Assert.Equal(gzip, onDisk[0] == 0x1F && onDisk[1] == 0x8B);
        Assert.Equal([path], Directory.GetFiles(_dir)); // no temporary file left behind
    }

    [Fact]
    public void Write_ProducesTheSpecifiedBytes()
    {
        string path = PathFor("spec");
        Idx.Write(path, IdxType.Int16, [2, 1], [0x01, 0x02, 0x03, 0x04], gzip: false);
        Assert.Equal([0, 0, 0x0B, 2, 0, 0, 0, 2, 0, 0, 0, 1, 0x01, 0x02, 0x03, 0x04], File.ReadAllBytes(path));
    }

    [Fact]
    public void Read_DetectsGzipByContent_NotByExtension()
    {
        byte[] raw = IdxBytes(0x08, [2], [5, 6]);
        File.WriteAllBytes(PathFor("compressed.idx"), Gzip(raw));
        File.WriteAllBytes(PathFor("plain.gz"), raw);
        Assert.Equal([5, 6], Idx.Read(PathFor("compressed.idx")).AsBytes());
        Assert.Equal([5, 6], Idx.Read(PathFor("plain.gz")).AsBytes());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Read_FromNonSeekableStream(bool gzip)
    {
        byte[] raw = IdxBytes(0x08, [3], [1, 2, 3]);
        using var stream = new ForwardOnlyStream(gzip ? Gzip(raw) : raw);
        IdxArray array = Idx.Read(stream, "network stream");
        Assert.Equal([1, 2, 3], array.AsBytes());
    }

    [Fact]
    public void Read_MissingFile_ThrowsFileNotFoundNamingPath()
    {
        string path = PathFor("absent-idx3-ubyte");
        var e = Assert.Throws<FileNotFoundException>(() => Idx.Read(path));
        Assert.Contains(path, e.Message);

        string inMissingDir = PathFor(Path.Combine("no-such-dir", "file"));
        e = Assert.Throws<FileNotFoundException>(() => Idx.Read(inMissingDir));
        Assert.Contains(inMissingDir, e.Message);
    }

    [Fact]
    public void Read_TruncatedImageData_SaysHowMuchWasExpectedAndFound()
    {
        InvalidDataException e = ReadCorrupt(IdxBytes(0x08, [60000, 28, 28], new byte[1000]), "train-images-idx3-ubyte");
        Assert.Contains("expected 47040000 bytes of ubyte data for 60000×28×28, found 1000", e.Message);
    }

    [Fact]
    public void Read_TruncatedGzip_IsReported()
    {
        byte[] compressed = Gzip(IdxBytes(0x08, [100, 100], Enumerable.Range(0, 10_000).Select(i => (byte)(i * 7)).ToArray()));
        InvalidDataException e = ReadCorrupt(compressed[..(compressed.Length / 2)]);
        Assert.True(e.Message.Contains("truncated data", StringComparison.Ordinal) || e.Message.Contains("corrupt gzip stream", StringComparison.Ordinal), e.Message);
    }

    [Fact]
    public void Read_CorruptGzip_IsReported()
    {
        byte[] compressed = Gzip(IdxBytes(0x08, [4], [1, 2, 3, 4]));
        // After the 10-byte gzip header, all-ones bits declare a deflate block of the reserved type 3.
        compressed.AsSpan(10).Fill(0xFF);
        InvalidDataException e = ReadCorrupt(compressed);
        Assert.Contains("corrupt gzip stream", e.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x50, 0x4B, 0x03, 0x04, 0, 0 }, "bad magic number 50 4B 03 04")]
    [InlineData(new byte[] { 0x00, 0x01, 0x08, 0x01, 0, 0, 0, 0 }, "bad magic number 00 01 08 01")]
    [InlineData(new byte[] { 0x00, 0x00, 0x07, 0x01, 0, 0, 0, 0 }, "unknown element type code 0x07")]
    [InlineData(new byte[] { 0x00, 0x00, 0x08, 0x00 }, "zero dimensions")]
    [InlineData(new byte[] { 0x00, 0x00, 0x08, 0x03, 0, 0, 0, 1, 0, 0 }, "truncated header: 3 dimensions need 12 bytes of sizes, found 6")]
    [InlineData(new byte[] { 0x00, 0x00, 0x08, 0x02, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFE }, "dimension 1 has negative size -2")]
    [InlineData(new byte[] { 0x00, 0x00, 0x08, 0x02, 0x7F, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF }, "exceeds the largest .NET array")]
    [InlineData(new byte[] { 0x00, 0x00, 0x08, 0x01, 0, 0, 0, 2, 1, 2, 3, 4, 5 }, "3 trailing bytes after the 2 bytes of ubyte data for 2")]
    [InlineData(new byte[] { 0x00, 0x00, 0x0C, 0x01, 0, 0, 0, 2, 1, 2, 3, 4, 5 }, "expected 8 bytes of int data for 2, found 5")]
    [InlineData(new byte[] { }, "it has 0 bytes, too few for the 4-byte magic number")]
    [InlineData(new byte[] { 0x00, 0x00, 0x08 }, "it has 3 bytes, too few for the 4-byte magic number")]
    public void Read_Corrupt_ThrowsInvalidDataNamingFileAndProblem(byte[] content, string expectedProblem)
    {
        InvalidDataException e = ReadCorrupt(content);
        Assert.Contains(expectedProblem, e.Message);
    }

    [Fact]
    public void Read_CorruptInsideGzip_IsReportedAfterDecompression()
    {
        InvalidDataException e = ReadCorrupt(Gzip([0x00, 0x00, 0x08, 0x01, 0, 0, 0, 4, 1, 2]), "labels.gz");
        Assert.Contains("expected 4 bytes of ubyte data for 4, found 2 after decompression", e.Message);
    }

    [Fact]
    public void Write_RejectsInconsistentArguments()
    {
        string path = PathFor("never");
        Assert.Throws<ArgumentException>(() => Idx.Write(path, IdxType.Int32, [2], new byte[4], gzip: false));
        Assert.Throws<ArgumentException>(() => Idx.Write(path, IdxType.UnsignedByte, [], [], gzip: false));
        Assert.Throws<ArgumentException>(() => Idx.Write(path, IdxType.UnsignedByte, [-1], [], gzip: false));
        Assert.Throws<ArgumentException>(() => Idx.Write(path, (IdxType)0x07, [1], [0], gzip: false));
        Assert.Throws<ArgumentException>(() => Idx.Write(path, IdxType.UnsignedByte, new int[256], [], gzip: false));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void AsBytes_RefusesNonByteTypes()
    {
        var array = new IdxArray(IdxType.Int16, [1], [0, 1]);
        Assert.Throws<InvalidOperationException>(() => array.AsBytes());
        Assert.Equal([1.0], array.AsDoubles());
    }

    [Fact]
    public void ArrayConstructor_ChecksDataLength()
    {
        Assert.Throws<ArgumentException>(() => new IdxArray(IdxType.Double, [2], new byte[8]));
    }

    /// <summary>A stream that can only be read forwards, like a network or pipe stream.</summary>
    private sealed class ForwardOnlyStream(byte[] content) : Stream
    {
        private readonly MemoryStream _inner = new(content);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
