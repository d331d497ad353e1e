using System.Runtime.InteropServices;

namespace Turbo.Converter.Files;

/// <summary>
/// A second name for a file's bytes: a hard link where the file system allows one (POSIX link(2): same volume), else
/// a copy. The package stage takes a stage's multi-gigabyte checkpoint this way, so that converting a large model
/// does not need room for its weights twice. Safe because no stage rewrites a file in place: a rerun writes a new
/// file and renames it over the old name, which leaves the other name's bytes as they were.
/// </summary>
public static partial class FileLink
{
    /// <summary>Makes <paramref name="destination"/> (which must not exist) name <paramref name="source"/>'s bytes; true when linked, false when copied.</summary>
    public static bool LinkOrCopy(string source, string destination)
    {
        if (!OperatingSystem.IsWindows() && Link(source, destination) == 0) return true;
        File.Copy(source, destination);
        return false;
    }

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Link(string existing, string created);
}
