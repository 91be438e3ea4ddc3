using Nabla.Serialization;
using Xunit;

namespace Nabla.Tests.Serialization;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "nabla-atomic-" + Guid.NewGuid().ToString("N"));

    public AtomicFileTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void WriteText(string path, string text) =>
        AtomicFile.Write(path, s => s.Write(System.Text.Encoding.UTF8.GetBytes(text)));

    private string[] FilesInDir() => Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).ToArray()!;

    [Fact]
    public void Write_CreatesFileWithExactContent()
    {
        string path = Path.Combine(_dir, "a.bin");
        AtomicFile.Write(path, s => s.Write([1, 2, 3]));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Equal(["a.bin"], FilesInDir());
    }

    [Fact]
    public void Write_ReplacesExistingFile_WithShorterContent()
    {
        string path = Path.Combine(_dir, "a.txt");
        WriteText(path, "a much longer previous content");
        WriteText(path, "new");
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal(["a.txt"], FilesInDir());
    }

    [Fact]
    public void Write_WhenCallbackThrows_KeepsPreviousContentAndLeavesNoTempFile()
    {
        string path = Path.Combine(_dir, "model.bin");
        WriteText(path, "previous");

        var thrown = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[100_000]); // more than the stream buffers, so some of it reaches the temp file
            throw new InvalidOperationException("boom");
        }));

        Assert.Equal("boom", thrown.Message); // the caller's exception is not wrapped
        Assert.Equal("previous", File.ReadAllText(path));
        Assert.Equal(["model.bin"], FilesInDir());
    }

    [Fact]
    public void Write_WhenCallbackThrows_WithoutPreviousFile_LeavesNothing()
    {
        string path = Path.Combine(_dir, "new.bin");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, _ => throw new InvalidOperationException()));
        Assert.Empty(FilesInDir());
    }

    [Fact]
    public void Write_CreatesMissingDirectories()
    {
        string path = Path.Combine(_dir, "x", "y", "z.bin");
        AtomicFile.Write(path, s => s.WriteByte(7));
        Assert.Equal([7], File.ReadAllBytes(path));
    }

    [Fact]
    public void Write_RelativePath_IsResolvedAgainstCurrentDirectory()
    {
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, Path.Combine(_dir, "rel.bin"));
        AtomicFile.Write(relative, s => s.WriteByte(1));
        Assert.True(File.Exists(Path.Combine(_dir, "rel.bin")));
    }

    [Fact]
    public void Write_IntoDirectoryThatCannotBeCreated_ThrowsIOExceptionNamingPath()
    {
        // A regular file where a directory should be blocks creation even for root, unlike permission bits.
        string blocker = Path.Combine(_dir, "blocker");
        File.WriteAllText(blocker, "");
        string path = Path.Combine(blocker, "sub", "out.bin");

        var e = Assert.Throws<IOException>(() => AtomicFile.Write(path, s => s.WriteByte(1)));

        Assert.Contains(path, e.Message);
        Assert.Equal(["blocker"], FilesInDir());
    }

    [Fact]
    public void Write_OverADirectory_ThrowsIOExceptionNamingPath_AndRemovesTempFile()
    {
        string path = Path.Combine(_dir, "taken");
        Directory.CreateDirectory(path);

        var e = Assert.ThrowsAny<IOException>(() => AtomicFile.Write(path, s => s.WriteByte(1)));

        Assert.Contains(path, e.Message);
        Assert.Equal(["taken"], FilesInDir());
        Assert.Empty(Directory.GetFileSystemEntries(path));
    }

    [Fact]
    public void Write_ReadOnlyDirectory_ThrowsIOExceptionNamingPath()
    {
        // Permission bits do not stop root, so the check only means something for ordinary users on Unix.
        if (OperatingSystem.IsWindows() || Environment.UserName == "root")
        {
            return;
        }
        string locked = Path.Combine(_dir, "locked");
        Directory.CreateDirectory(locked);
        File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try
        {
            string path = Path.Combine(locked, "out.bin");
            var e = Assert.Throws<IOException>(() => AtomicFile.Write(path, s => s.WriteByte(1)));
            Assert.Contains(path, e.Message);
        }
        finally
        {
            File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    [Fact]
    public void Write_ConcurrentWritersToSameFile_EachLeaveACompleteFile()
    {
        string path = Path.Combine(_dir, "shared.bin");
        Parallel.For(0, 16, i => AtomicFile.Write(path, s => s.Write(Enumerable.Repeat((byte)i, 10_000).ToArray())));

        byte[] content = File.ReadAllBytes(path);
        Assert.Equal(10_000, content.Length);
        Assert.All(content, b => Assert.Equal(content[0], b));
        Assert.Equal(["shared.bin"], FilesInDir());
    }
}
