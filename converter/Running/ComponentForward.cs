using System.Text.Json;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Converter.Running;

/// <summary>The part of a text-to-video model a checkpoint holds.</summary>
public enum ComponentKind { Transformer, Vae, TextEncoder }

/// <summary>
/// `forward` on the parts beside the DiT, told apart by the config.json beside their weights (diffusers'
/// AutoencoderKLWan, transformers' UMT5): a VAE reads <c>video</c> and/or <c>latent_mean</c> and writes
/// <c>latent_mean</c> and <c>latent_logvar</c> (encode) and <c>decoded</c> (decode of the given latent); a text encoder
/// reads <c>input_ids</c> and <c>attention_mask</c> and writes <c>last_hidden_state</c>.
/// </summary>
public static class ComponentForward
{
    public static ComponentKind Detect(string path)
    {
        string folder = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!;
        string config = Path.Combine(folder, "config.json");
        if (!File.Exists(config)) return ComponentKind.Transformer;
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(config));
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return ComponentKind.Transformer;
            bool Is(string key, string value) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() == value;
            bool HasAll(params string[] keys) => keys.All(k => root.TryGetProperty(k, out _));
            // By class or type name, or (configs saved without them) by the fields only that model has.
            if (Is("_class_name", "AutoencoderKLWan") || HasAll("base_dim", "z_dim", "dim_mult")) return ComponentKind.Vae;
            if (Is("model_type", "umt5") || HasAll("d_model", "d_kv", "d_ff")) return ComponentKind.TextEncoder;
            return ComponentKind.Transformer;
        }
        catch (JsonException e) { throw new TurboException($"{config}: not valid JSON ({e.Message})"); }
    }

    /// <summary>Runs the VAE on what the inputs file holds; returns the tensors written, by name.</summary>
    public static IReadOnlyList<string> Vae(string path, string inputs, string output, Device device)
    {
        var present = InputTensors.Present(inputs, "video", "latent_mean");
        if (present.Length == 0) throw new TurboException($"{inputs}: a VAE reads 'video' (to encode) and/or 'latent_mean' (to decode); neither is there");
        using var vae = WanVae.FromCheckpoint(path, device);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var given = present.Zip(InputTensors.Read(inputs, "forward (VAE)", present)).ToDictionary(p => p.First, p => p.Second);
        var results = new Dictionary<string, Tensor>();
        if (given.TryGetValue("video", out var video))
        {
            var (mean, logVar) = vae.Encode(video);
            results["latent_mean"] = mean.cpu();
            results["latent_logvar"] = logVar.cpu();
        }
        if (given.TryGetValue("latent_mean", out var latent)) results["decoded"] = vae.Decode(latent).cpu();
        SafetensorsWriter.Save(output, results);
        return results.Keys.ToArray();
    }

    /// <summary>Runs the UMT5 encoder on input_ids and attention_mask; writes last_hidden_state.</summary>
    public static IReadOnlyList<string> TextEncoder(string path, string inputs, string output, Device device)
    {
        var tensors = InputTensors.Read(inputs, "forward (text encoder)", ScalarType.Int64, "input_ids", "attention_mask");
        try
        {
            using var encoder = Umt5Encoder.FromCheckpoint(path, ScalarType.Float32, device);
            using var noGrad = no_grad();
            using var hidden = encoder.Forward(tensors[0], tensors[1]);
            using var onCpu = hidden.cpu();
            SafetensorsWriter.Save(output, new Dictionary<string, Tensor> { ["last_hidden_state"] = onCpu });
            return ["last_hidden_state"];
        }
        finally
        {
            foreach (var t in tensors) t.Dispose();
        }
    }
}
