using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Turbo.Converter.Files;
using Turbo.Runtime;
using Turbo.Runtime.Packaging;

namespace Turbo.Converter.Conversion;

/// <summary>
/// A stage's "done" marker (<c>done.json</c> in its folder), written last: the settings it ran with and their hash,
/// the hash of the input state it read, and its outcome. A stage folder without one holds an unfinished run.
/// </summary>
public sealed record StageMarker(string Stage, string SettingsHash, IReadOnlyDictionary<string, string> Settings, string InputHash, StageOutcome Outcome)
{
    public const string FileName = "done.json";

    /// <summary>SHA-256 of the settings as sorted key=value lines: independent of the order they were given in.</summary>
    public static string HashOf(IReadOnlyDictionary<string, string> settings) => Sha256(string.Concat(
        settings.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => s.Key + "=" + s.Value + "\n")));

    public static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    public static StageMarker? Read(string folder)
    {
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<StageMarker>(File.ReadAllText(path), PackageManifest.Json) ?? throw new JsonException("empty"); }
        catch (JsonException e) { throw new TurboException($"{path}: unreadable stage marker ({e.Message.Split('\n')[0]}); remove the folder to run the stage again"); }
    }

    public void Write(string folder) => AtomicFile.WriteAllText(Path.Combine(folder, FileName), JsonSerializer.Serialize(this, PackageManifest.Json));

    /// <summary>The first setting whose value differs, as "name: old → new".</summary>
    public string DescribeDifference(IReadOnlyDictionary<string, string> settings) =>
        Settings.Keys.Union(settings.Keys).Order(StringComparer.Ordinal)
            .Where(k => Settings.GetValueOrDefault(k) != settings.GetValueOrDefault(k))
            .Select(k => $"{k}: {Settings.GetValueOrDefault(k) ?? "(none)"} → {settings.GetValueOrDefault(k) ?? "(none)"}")
            .FirstOrDefault() ?? "(same values, other hash)";
}
