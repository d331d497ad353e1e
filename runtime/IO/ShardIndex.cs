using System.Text.Json;

namespace Turbo.Runtime.IO;

/// <summary>
/// The index of a sharded checkpoint, <c>&lt;stem&gt;.safetensors.index.json</c>:
/// <c>{"metadata": {"total_size": bytes}, "weight_map": {"tensor name": "shard file name", ...}}</c>.
/// </summary>
static class ShardIndex
{
    public const string Suffix = ".safetensors.index.json";

    /// <summary>The weight map (tensor name → shard file name), validated: strings only, no duplicate names, plain file names.</summary>
    public static IReadOnlyDictionary<string, string> ReadWeightMap(string indexPath)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(File.ReadAllBytes(indexPath)); }
        catch (JsonException e) { throw new TurboException($"{indexPath}: not valid JSON ({e.Message.TrimEnd('.')})"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TurboException($"{indexPath}: cannot read ({e.Message.TrimEnd('.')})");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new TurboException($"{indexPath}: no \"weight_map\" object (expected {{\"metadata\": {{...}}, \"weight_map\": {{tensor: shard}}}})");
            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                string where = $"{indexPath}: weight_map entry '{entry.Name}'";
                if (entry.Value.ValueKind != JsonValueKind.String) throw new TurboException($"{where} is a {entry.Value.ValueKind}, not a shard file name");
                string shard = entry.Value.GetString()!;
                if (shard.Length == 0 || shard is "." or ".." || shard.IndexOfAny(['/', '\\']) >= 0)
                    throw new TurboException($"{where} names '{shard}', not a file name beside the index");
                if (!weightMap.TryAdd(entry.Name, shard)) throw new TurboException($"{where} appears twice");
            }
            if (weightMap.Count == 0) throw new TurboException($"{indexPath}: weight_map lists no tensors");
            return weightMap;
        }
    }

    /// <summary>Writes the index atomically (temporary file, then rename), weight map sorted by name, indented like diffusers does.</summary>
    public static void Write(string indexPath, long totalSize, IReadOnlyDictionary<string, string> weightMap)
    {
        string temp = indexPath + ".tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
            using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteStartObject("metadata");
                json.WriteNumber("total_size", totalSize);
                json.WriteEndObject();
                json.WriteStartObject("weight_map");
                foreach (var (name, shard) in weightMap.OrderBy(kv => kv.Key, StringComparer.Ordinal)) json.WriteString(name, shard);
                json.WriteEndObject();
                json.WriteEndObject();
                json.Flush();
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, indexPath, overwrite: true);
        }
        finally { File.Delete(temp); }
    }
}
