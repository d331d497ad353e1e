namespace Turbo.Runtime.Packaging;

/// <summary>
/// Writes a package into a temporary folder beside its destination and renames it into place only on
/// <see cref="Commit"/>, after hashing every file into the manifest: a package folder either is complete or does not
/// exist. Disposing without committing deletes the temporary folder.
/// </summary>
public sealed class PackageWriter : IDisposable
{
    readonly string _destination;
    bool _committed;

    /// <summary>The temporary folder the files go into.</summary>
    public string Folder { get; }

    /// <param name="temporaryFolder">where the files go until the rename (on the destination's file system; it is
    /// replaced if present); default: beside the destination, named after it and this process</param>
    public PackageWriter(string destination, string? temporaryFolder = null)
    {
        _destination = Path.GetFullPath(destination);
        CheckDestination(destination);
        Directory.CreateDirectory(Path.GetDirectoryName(_destination)!);
        Folder = temporaryFolder is null ? _destination + ".partial-" + Environment.ProcessId : Path.GetFullPath(temporaryFolder);
        if (Directory.Exists(Folder)) Directory.Delete(Folder, recursive: true);
        Directory.CreateDirectory(Folder);
    }

    /// <summary>Throws unless a package can be written to <paramref name="destination"/>: absent, its parent a folder or absent (then created).</summary>
    public static void CheckDestination(string destination)
    {
        string full = Path.GetFullPath(destination);
        if (Directory.Exists(full) || File.Exists(full))
            throw new TurboException($"{destination}: already exists; choose a new package path or remove it");
        string? parent = Path.GetDirectoryName(full);
        if (parent is null || File.Exists(parent)) throw new TurboException($"{destination}: its parent is not a folder");
    }

    /// <summary>Path of a package-relative file in the temporary folder (its folder is created).</summary>
    public string PathFor(string relative)
    {
        string path = PackageFolder.Resolve(Folder, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return path;
    }

    /// <summary>Copies every file of <paramref name="sourceFolder"/> (recursively) under the package-relative folder <paramref name="relative"/>.</summary>
    public void CopyFolder(string sourceFolder, string relative)
    {
        if (!Directory.Exists(sourceFolder)) throw new TurboException($"{sourceFolder}: folder not found");
        foreach (string file in Directory.EnumerateFiles(sourceFolder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            File.Copy(file, PathFor(relative + "/" + Path.GetRelativePath(sourceFolder, file).Replace(Path.DirectorySeparatorChar, '/')));
    }

    /// <summary>Hashes every file, writes turbo.json with the hashes, and renames the folder into place.</summary>
    public void Commit(PackageManifest manifest)
    {
        CheckDestination(_destination);
        var files = Directory.EnumerateFiles(Folder, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Folder, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(f => f != PackageManifest.FileName)
            .OrderBy(f => f, StringComparer.Ordinal)
            .ToDictionary(f => f, f => PackageFolder.Sha256(Path.Combine(Folder, f)));
        var complete = manifest with { Files = files };
        File.WriteAllText(Path.Combine(Folder, PackageManifest.FileName),
            System.Text.Json.JsonSerializer.Serialize(complete, PackageManifest.Json));
        Directory.Move(Folder, _destination);
        _committed = true;
    }

    public void Dispose()
    {
        if (!_committed && Directory.Exists(Folder)) Directory.Delete(Folder, recursive: true);
    }
}
