namespace Nabla.Serialization;

/// <summary>
/// Replaces a file so that readers, and the file system after a crash, see either the complete previous
/// content or the complete new content, never a half-written file.
/// </summary>
public static class AtomicFile
{
    /// <summary>
    /// Calls <paramref name="write"/> with a stream onto a temporary file beside <paramref name="path"/>,
    /// forces the data to disk and renames the temporary file over <paramref name="path"/>.
    /// </summary>
    /// <remarks>
    /// The temporary file lives in the target's directory because a rename is only atomic within one file system.
    /// If <paramref name="write"/> throws, its exception propagates unchanged, the temporary file is deleted and
    /// the previous file is left untouched. The directory is created if missing.
    /// </remarks>
    /// <exception cref="IOException">The directory or file cannot be created or replaced; the message names the path.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);

        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath)
            ?? throw new ArgumentException($"'{path}' names a root directory, not a file.", nameof(path));
        // Dot-prefixed and GUID-suffixed: hidden from casual listings and unique across concurrent writers.
        string tempPath = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");

        try
        {
            FileStream stream = FileSystemStep(fullPath, () =>
            {
                Directory.CreateDirectory(directory);
                return new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16);
            });
            using (stream)
            {
                write(stream);
                // Without the flush to disk, a power loss after the rename could leave the new name pointing at
                // data that never reached the disk.
                FileSystemStep(fullPath, () => stream.Flush(flushToDisk: true));
            }
            FileSystemStep(fullPath, () => File.Move(tempPath, fullPath, overwrite: true));
        }
        catch
        {
            TryDelete(tempPath);
            throw;
        }
    }

    /// <summary>Runs a file-system step, turning its failures into an <see cref="IOException"/> that names the target.</summary>
    private static T FileSystemStep<T>(string fullPath, Func<T> step)
    {
        try
        {
            return step();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"Cannot write '{fullPath}': {e.Message}", e);
        }
    }

    private static void FileSystemStep(string fullPath, Action step) =>
        FileSystemStep(fullPath, () =>
        {
            step();
            return true;
        });

    private static void TryDelete(string tempPath)
    {
        try
        {
            File.Delete(tempPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The original failure matters more than a leftover temporary file; do not mask it.
        }
    }
}
