using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Turbo.Runtime.Packaging;

/// <summary>
/// Opens a package folder: checks the format and version, that its parts are listed, and every file's SHA-256 (and that
/// no file is there that the manifest does not list) before anything is loaded; any mismatch is one line naming the file.
/// </summary>
public static class PackageFolder
{
    public static PackageManifest Open(string folder)
    {
        string manifestPath = Path.Combine(folder, PackageManifest.FileName);
        if (!Directory.Exists(folder)) throw new TurboException($"{folder}: package folder not found");
        if (!File.Exists(manifestPath)) throw new TurboException($"{folder}: not a package ({PackageManifest.FileName} is missing)");
        // The format and version are read first: a manifest of another version need not have this version's fields.
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(manifestPath)); }
        catch (JsonException e) { throw new TurboException($"{manifestPath}: unreadable manifest ({e.Message.Split('\n')[0]})"); }
        if (node is not JsonObject header || header["format"]?.GetValueKind() != JsonValueKind.String
            || (string?)header["format"] != PackageManifest.Format)
            throw new TurboException($"{manifestPath}: format is not \"{PackageManifest.Format}\"");
        int? version = header["formatVersion"] is JsonValue v && v.TryGetValue<int>(out int n) ? n : null;
        if (version == 1)
            throw new TurboException(
                $"{manifestPath}: package format version 1 (a transformer-only package); this toolkit reads version {PackageManifest.CurrentVersion}, self-contained text-to-video packages: convert the teacher again with `turbo-convert run`");
        if (version != PackageManifest.CurrentVersion)
            throw new TurboException(
                $"{manifestPath}: package format version {header["formatVersion"]?.ToJsonString() ?? "(missing)"}, this toolkit reads version {PackageManifest.CurrentVersion}");
        PackageManifest manifest;
        try { manifest = header.Deserialize<PackageManifest>(PackageManifest.Json) ?? throw new JsonException("empty"); }
        catch (JsonException e) { throw new TurboException($"{manifestPath}: unreadable manifest ({e.Message.Split('\n')[0]})"); }
        if (manifest.Task != PackageManifest.TextToVideo)
            throw new TurboException($"{manifestPath}: task '{manifest.Task}'; this toolkit runs {PackageManifest.TextToVideo} packages");
        var c = manifest.Components;
        if (!manifest.Files.ContainsKey(c.Transformer))
            throw new TurboException($"{manifestPath}: the transformer weights {c.Transformer} are not listed under files");
        foreach (var (role, folderName) in new[] { ("text encoder", c.TextEncoder), ("tokenizer", c.Tokenizer), ("VAE", c.Vae) })
            if (!manifest.Files.Keys.Any(f => f.StartsWith(folderName + "/", StringComparison.Ordinal)))
                throw new TurboException($"{manifestPath}: the {role} folder {folderName}/ has no files listed under files");
        foreach (var (relative, expected) in manifest.Files)
        {
            string path = Resolve(folder, relative);
            if (!File.Exists(path)) throw new TurboException($"{path}: listed in {PackageManifest.FileName} but missing");
            string actual = Sha256(path);
            if (actual != expected)
                throw new TurboException($"{path}: SHA-256 {actual[..12]}… does not match the manifest's {expected[..Math.Min(12, expected.Length)]}… (the file changed after packaging)");
        }
        var unlisted = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(folder, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(f => f != PackageManifest.FileName && !manifest.Files.ContainsKey(f)).Order(StringComparer.Ordinal).FirstOrDefault();
        if (unlisted is not null)
            throw new TurboException($"{Path.Combine(folder, unlisted)}: not listed in {PackageManifest.FileName} (the package changed after packaging)");
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
