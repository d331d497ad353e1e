using Turbo.Converter.Families.Wan;
using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Tests.Support;

/// <summary>
/// Variants of the golden Wan2.1 checkpoint that a test writes for itself: placed beside a config.json, renamed,
/// with a tensor changed, dropped or added, or split into shards.
/// </summary>
static class GoldenCopies
{
    /// <summary>Copies golden weights (+ their config as config.json) into <paramref name="folder"/>; returns the weights path.</summary>
    public static string WithConfigBeside(string folder, string weights, string config)
    {
        Directory.CreateDirectory(folder);
        string target = Path.Combine(folder, weights);
        File.Copy(Golden.Path(weights), target);
        CopyConfig(folder, config);
        return target;
    }

    /// <summary>Writes the golden original weights to <paramref name="path"/> after applying <paramref name="edit"/> to the name→tensor map.</summary>
    public static void WriteEdited(string path, Action<Dictionary<string, Tensor>> edit)
    {
        using var scope = NewDisposeScope();
        var tensors = ReadAll(Golden.Path(Golden.OriginalWeights));
        edit(tensors);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        SafetensorsWriter.Save(path, tensors);
    }

    /// <summary>Writes the golden original weights to <paramref name="path"/> under ComfyUI's names (every name prefixed).</summary>
    public static void WriteComfyUI(string path) => WriteEdited(path, tensors =>
    {
        foreach (string name in tensors.Keys.ToArray())
        {
            tensors[WanNames.ComfyPrefix + name] = tensors[name];
            tensors.Remove(name);
        }
    });

    /// <summary>Writes the golden original weights as shards (+ index and config.json) into <paramref name="folder"/>.</summary>
    public static void WriteShardedWithConfig(string folder, long maxShardBytes)
    {
        using (var scope = NewDisposeScope())
        {
            var tensors = ReadAll(Golden.Path(Golden.OriginalWeights));
            var layout = tensors.Select(kv => (kv.Key, SafetensorsDType.F32, kv.Value.shape)).ToList();
            ShardedCheckpointWriter.Write(folder, "diffusion_pytorch_model", layout, name => tensors[name], maxShardBytes);
        }
        CopyConfig(folder, Golden.OriginalConfig);
    }

    /// <summary>Copies a golden config into <paramref name="folder"/> as config.json, where checkpoints keep theirs.</summary>
    public static void CopyConfig(string folder, string config) => File.Copy(Golden.Path(config), Path.Combine(folder, "config.json"));

    static Dictionary<string, Tensor> ReadAll(string path)
    {
        using var file = SafetensorsFile.Open(path);
        return file.Tensors.ToDictionary(t => t.Name, t => file.Read(t.Name), StringComparer.Ordinal);
    }
}
