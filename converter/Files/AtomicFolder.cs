using Turbo.Runtime;

namespace Turbo.Converter.Files;

/// <summary>
/// Writes a folder so that readers see either nothing or all of it: the files go into a temporary folder beside it,
/// renamed into place when complete and removed when anything fails.
/// </summary>
public static class AtomicFolder
{
    /// <param name="destination">an absent or empty folder (an empty one is replaced)</param>
    /// <param name="write">fills the empty temporary folder it is given</param>
    public static void Write(string destination, Action<string> write)
    {
        string final = Path.GetFullPath(destination);
        if (File.Exists(final)) throw new TurboException($"{destination}: is a file; expected a folder to create");
        if (Directory.Exists(final) && Directory.EnumerateFileSystemEntries(final).Any())
            throw new TurboException($"{destination}: folder is not empty; expected an absent or empty folder");
        string temp = final + ".partial-" + Environment.ProcessId;
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        try
        {
            write(temp);
            if (Directory.Exists(final)) Directory.Delete(final); // the empty folder the caller may have made: a rename does not replace it
            Directory.Move(temp, final);
        }
        catch
        {
            Directory.Delete(temp, recursive: true);
            throw;
        }
    }
}
