namespace Turbo.Runtime.Video;

/// <summary>
/// Writes an output file through a temporary file in the same folder, renamed over the target only once complete,
/// so that a failed write (or a viewer opening the file meanwhile) never sees half a video.
/// </summary>
static class AtomicOutput
{
    /// <summary>Runs <paramref name="write"/> on a stream to a temporary file, then renames it to <paramref name="path"/>.</summary>
    public static void Write(string path, Action<Stream> write) => WriteVia(path, temp =>
    {
        using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16);
        write(stream);
        stream.Flush(flushToDisk: true);
    });

    /// <summary>
    /// Runs <paramref name="write"/> with the path of a temporary file (for a writer that opens it itself, such as
    /// ffmpeg), then renames that file to <paramref name="path"/>; on failure the temporary file is deleted.
    /// </summary>
    public static void WriteVia(string path, Action<string> write)
    {
        string temp = TempPathBeside(path);
        try
        {
            write(temp);
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>A fresh name in the folder of <paramref name="path"/> (same file system, so the rename is atomic); the folder must exist.</summary>
    public static string TempPathBeside(string path)
    {
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder)) throw new TurboException($"{path}: folder {folder} does not exist");
        return Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
    }
}
