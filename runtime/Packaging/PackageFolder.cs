using System.Security.Cryptography;
using System.Text.Json;

namespace Turbo.Runtime.Packaging;

/// <summary>Opens a package folder: checks the format version and every file's SHA-256 before anything is loaded.</summary>
public static class PackageFolder
{
    public static PackageManifest Open(string folder)
    {
        string manifestPath = Path.Combine(folder, PackageManifest.FileName);
        if (!Directory.Exists(folder)) throw new TurboException($"{folder}: package folder not found");
        if (!File.Exists(manifestPath)) throw new TurboException($"{folder}: not a package ({PackageManifest.FileName} is missing)");
        PackageManifest? manifest;
        try { manifest = JsonSerializer.Deserialize<PackageManifest>(File.ReadAllText(manifestPath), PackageManifest.Json); }
        catch (JsonException e) { throw new TurboException($"{manifestPath}: unreadable manifest ({e.Message.Split('\n')[0]})"); }
        if (manifest is null || manifest.FormatName != PackageManifest.Format)
            throw new TurboException($"{manifestPath}: format is not \"{PackageManifest.Format}\"");
        if (manifest.FormatVersion != PackageManifest.CurrentVersion)
            throw new TurboException(
                $"{manifestPath}: package format version {manifest.FormatVersion}, this toolkit reads version {PackageManifest.CurrentVersion}");
        if (!manifest.Files.ContainsKey(manifest.Weights))
            throw new TurboException($"{manifestPath}: the weights file {manifest.Weights} is not listed under files");
        foreach (var (relative, expected) in manifest.Files)
        {
            string path = Resolve(folder, relative);
            if (!File.Exists(path)) throw new TurboException($"{path}: listed in {PackageManifest.FileName} but missing");
            string actual = Sha256(path);
            if (actual != expected)
                throw new TurboException($"{path}: SHA-256 {actual[..12]}… does not match the manifest's {expected[..Math.Min(12, expected.Length)]}… (the file changed after packaging)");
        }
        return manifest;
    }

    /// <summary>A package-relative path inside the folder; refuses paths that leave it.</summary>
    public static string Resolve(string folder, string relative)
    {
        string root = Path.GetFullPath(folder);
        string full = Path.GetFullPath(Path.Combine(root, relative));
        if (!full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new TurboException($"{folder}: manifest path '{relative}' leaves the package folder");
        return full;
    }

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
