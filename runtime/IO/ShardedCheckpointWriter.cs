using TorchSharp;

namespace Turbo.Runtime.IO;

/// <summary>
/// Writes a checkpoint as shards <c>&lt;stem&gt;-00001-of-0000K.safetensors</c> plus <c>&lt;stem&gt;.safetensors.index.json</c>,
/// the Hugging Face layout. Tensors are produced one at a time on demand and streamed out, so a checkpoint larger
/// than memory can be written. Each file appears atomically; if anything fails, the shards already written by
/// this call are removed again, and the index (written last) is never left pointing at an incomplete set.
/// </summary>
public static class ShardedCheckpointWriter
{
    /// <summary>
    /// Splits <paramref name="layout"/> greedily, in order, into shards of at most <paramref name="maxShardBytes"/> tensor bytes
    /// (a tensor larger than that gets a shard of its own). <paramref name="produce"/> is called once per tensor, in layout
    /// order; tensors it creates are disposed after writing (tensors it merely returns, such as module parameters, are not).
    /// Every shard carries <paramref name="metadata"/>. Returns the paths written, shards first, then the index.
    /// </summary>
    public static IReadOnlyList<string> Write(string dir, string stem, IReadOnlyList<(string Name, SafetensorsDType DType, long[] Shape)> layout,
        Func<string, torch.Tensor> produce, long maxShardBytes, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (maxShardBytes <= 0) throw new TurboException($"{dir}: maximum shard size must be positive, not {maxShardBytes}");
        var shards = Split(dir, layout, maxShardBytes);
        Directory.CreateDirectory(dir);
        var written = new List<string>();
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        long totalSize = 0;
        try
        {
            for (int i = 0; i < shards.Count; i++)
            {
                string name = $"{stem}-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
                string path = Path.Combine(dir, name);
                using (var writer = new SafetensorsWriter(path, shards[i], metadata))
                {
                    foreach (var (tensor, dtype, shape) in shards[i])
                    {
                        using var scope = torch.NewDisposeScope();
                        writer.Write(tensor, produce(tensor));
                        weightMap.Add(tensor, name);
                        totalSize += SafetensorsHeader.ByteCount(shape, dtype)!.Value;
                    }
                    writer.Commit();
                }
                written.Add(path);
            }
            string index = Path.Combine(dir, stem + ShardIndex.Suffix);
            ShardIndex.Write(index, totalSize, weightMap);
            written.Add(index);
            return written;
        }
        catch
        {
            foreach (string path in written) File.Delete(path);
            throw;
        }
    }

    static List<List<(string Name, SafetensorsDType DType, long[] Shape)>> Split(string dir,
        IReadOnlyList<(string Name, SafetensorsDType DType, long[] Shape)> layout, long maxShardBytes)
    {
        if (layout.Count == 0) throw new TurboException($"{dir}: a checkpoint needs at least one tensor");
        var shards = new List<List<(string, SafetensorsDType, long[])>> { new() };
        var names = new HashSet<string>(StringComparer.Ordinal);
        long size = 0;
        foreach (var entry in layout)
        {
            if (!names.Add(entry.Name)) throw new TurboException($"{dir}: tensor '{entry.Name}' appears twice in the layout");
            long bytes = entry.Shape.All(d => d >= 0) ? SafetensorsHeader.ByteCount(entry.Shape, entry.DType) ?? -1 : -1;
            if (bytes < 0) throw new TurboException($"{dir}: tensor '{entry.Name}': shape [{string.Join(", ", entry.Shape)}] is negative or too large");
            if (shards[^1].Count > 0 && size + bytes > maxShardBytes) { shards.Add([]); size = 0; }
            shards[^1].Add(entry);
            size += bytes;
        }
        return shards;
    }
}
