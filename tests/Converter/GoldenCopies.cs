using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Tests.Converter;

/// <summary>
/// Variants of the golden Wan2.1 checkpoint that a test writes for itself: placed beside a config.json, renamed,
/// with a tensor changed, dropped or added, or split into shards.
/// </summary>
public static class GoldenCopies
{
    /// <summary>Copies golden weights (+ their config as config.json) into <paramref name="folder"/>; returns the weights path.</summary>
    public static string WithConfigBeside(string folder, string weights, string config)
    {
        Directory.CreateDirectory(folder);
        string target = Path.Combine(folder, weights);
        File.Copy(GoldenFiles.Path(weights), target);
        File.Copy(GoldenFiles.Path(config), Path.Combine(folder, "config.json"));
        return target;
    }

    /// <summary>Writes the golden original weights to <paramref name="path"/> after applying <paramref name="edit"/> to the name→tensor map.</summary>
    public static void WriteEdited(string path, Action<Dictionary<string, Tensor>> edit, string weights = GoldenFiles.OriginalWeights)
    {
        using var scope = NewDisposeScope();
        var tensors = ReadAll(GoldenFiles.Path(weights));
        edit(tensors);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        SafetensorsWriter.Save(path, tensors);
    }

    /// <summary>Writes the golden original weights as shards (+ index) into <paramref name="folder"/>.</summary>
    public static void WriteSharded(string folder, long maxShardBytes)
    {
        using var scope = NewDisposeScope();
        var tensors = ReadAll(GoldenFiles.Path(GoldenFiles.OriginalWeights));
        var layout = tensors.Select(kv => (kv.Key, SafetensorsDType.F32, kv.Value.shape)).ToList();
        ShardedCheckpointWriter.Write(folder, "diffusion_pytorch_model", layout, name => tensors[name], maxShardBytes);
    }

    public static Dictionary<string, Tensor> ReadAll(string path)
    {
        using var file = SafetensorsFile.Open(path);
        return file.Tensors.ToDictionary(t => t.Name, t => file.Read(t.Name), StringComparer.Ordinal);
    }
}
