using System.Text.Json;
using Turbo.Runtime;
using Turbo.Runtime.Attention;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Converter.Pipelines;

/// <summary>
/// A transformer's weights alone: transformer.safetensors under canonical names, its self-attention config in the
/// file's metadata ("attention", JSON), the rest of the architecture being the teacher's. How the SLA-tuned model and
/// the merged student are kept: a diffusers-layout folder has no place for sparse-linear attention.
/// </summary>
public static class TransformerCheckpoint
{
    public const string FileName = "transformer.safetensors", AttentionKey = "attention";

    public static void Write(string path, AttentionConfig attention, IReadOnlyDictionary<string, Tensor> weights)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var scope = NewDisposeScope();
        var cpu = weights.ToDictionary(kv => kv.Key, kv => kv.Value.detach().to(ScalarType.Float32).cpu().contiguous());
        SafetensorsWriter.Save(path, cpu, new Dictionary<string, string> { [AttentionKey] = JsonSerializer.Serialize(attention) });
    }

    /// <summary>The attention config (dense when the file records none) and the weights (CPU; the caller disposes them).</summary>
    public static (AttentionConfig Attention, Dictionary<string, Tensor> Weights) Read(string path)
    {
        if (!File.Exists(path)) throw new TurboException($"{path}: no such transformer checkpoint");
        using var file = SafetensorsFile.Open(path);
        var attention = AttentionOf(file);
        return (attention, file.Tensors.ToDictionary(t => t.Name, t => file.Read(t.Name)));
    }

    /// <summary>A model of <paramref name="architecture"/> with the checkpoint's attention and weights (checked by name and shape).</summary>
    public static WanModel Load(string path, WanConfig architecture, Device device)
    {
        if (!File.Exists(path)) throw new TurboException($"{path}: no such transformer checkpoint");
        using var file = SafetensorsFile.Open(path);
        var attention = AttentionOf(file);
        attention.Validate(architecture.HeadDim);
        var model = new WanModel(architecture with { Attention = attention }, ScalarType.Float32, device);
        try
        {
            model.LoadWeights(n => file.Contains(n) ? file.Info(n).Shape : null, file.Read, file.Path);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    static AttentionConfig AttentionOf(SafetensorsFile file)
    {
        if (!file.Metadata.TryGetValue(AttentionKey, out string? json)) return AttentionConfig.Dense;
        try { return JsonSerializer.Deserialize<AttentionConfig>(json) ?? throw new JsonException("null"); }
        catch (JsonException e) { throw new TurboException($"{file.Path}: metadata '{AttentionKey}' is not an attention config ({e.Message})"); }
    }
}
