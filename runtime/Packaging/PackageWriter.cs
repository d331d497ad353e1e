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

    public PackageWriter(string destination)
    {
        _destination = Path.GetFullPath(destination);
        if (Directory.Exists(_destination) || File.Exists(_destination))
            throw new TurboException($"{destination}: already exists; choose a new package path or remove it");
        string? parent = Path.GetDirectoryName(_destination);
        if (parent is null || !Directory.Exists(parent)) throw new TurboException($"{destination}: its parent folder does not exist");
        Folder = _destination + ".partial-" + Environment.ProcessId;
        if (Directory.Exists(Folder)) Directory.Delete(Folder, recursive: true);
        Directory.CreateDirectory(Folder);
    }

    /// <summary>Path of a package-relative file in the temporary folder (its folder is created).</summary>
    public string PathFor(string relative)
    {
        string path = PackageFolder.Resolve(Folder, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return path;
    }

    /// <summary>Hashes every file, writes turbo.json with the hashes, and renames the folder into place.</summary>
    public void Commit(PackageManifest manifest)
    {
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
