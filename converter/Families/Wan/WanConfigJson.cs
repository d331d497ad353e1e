using System.Text.Json;
using System.Text.Json.Nodes;
using Turbo.Runtime;
using Turbo.Runtime.Models;

namespace Turbo.Converter.Families.Wan;

/// <summary>The two config.json formats Wan2.1 DiTs ship with.</summary>
public enum WanConfigFormat
{
    /// <summary>Wan-AI release (class WanModel): dim, ffn_dim, num_heads, num_layers, in_dim, out_dim, ...</summary>
    Original,

    /// <summary>diffusers WanTransformer3DModel: attention_head_dim, num_attention_heads, in_channels, ...</summary>
    Diffusers,
}

/// <summary>
/// Reads and writes Wan2.1 DiT config.json files. The original format has no text_dim (the release takes the code
/// default 4096), so reading it needs the width of text_embedding.0.weight from the checkpoint.
/// </summary>
public static class WanConfigJson
{
    public static WanConfigSource Read(string path, int textDimFromWeights, string originPrefix)
    {
        JsonObject json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                   ?? throw new TurboException($"{path}: config is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new TurboException($"{path}: config is not valid JSON ({e.Message})");
        }
        catch (IOException e)
        {
            throw new TurboException($"{path}: cannot read config ({e.Message})");
        }
        var reader = new Fields(path, json);
        if (json.ContainsKey("attention_head_dim") || json.ContainsKey("num_attention_heads"))
            return new(ReadDiffusers(reader), $"{originPrefix} {path} (diffusers format)");
        if (json.ContainsKey("dim") || json.ContainsKey("num_heads"))
            return new(ReadOriginal(reader, textDimFromWeights), $"{originPrefix} {path} (original Wan format)");
        throw new TurboException(
            $"{path}: not a Wan2.1 DiT config: expected the original keys (dim, num_heads, ...) or the diffusers keys (attention_head_dim, num_attention_heads, ...)");
    }

    static WanConfig ReadOriginal(Fields f, int textDimFromWeights)
    {
        string modelType = f.OptionalString("model_type") ?? "t2v";
        if (modelType != "t2v")
            throw new TurboException($"{f.Path}: model_type is '{modelType}': only text-to-video (t2v) Wan2.1 is supported");
        var defaults = new WanConfig();
        return new WanConfig
        {
            Dim = f.Int("dim"),
            FfnDim = f.Int("ffn_dim"),
            NumHeads = f.Int("num_heads"),
            NumLayers = f.Int("num_layers"),
            InDim = f.Int("in_dim"),
            OutDim = f.Int("out_dim"),
            FreqDim = f.OptionalInt("freq_dim") ?? defaults.FreqDim,
            Eps = f.OptionalDouble("eps") ?? defaults.Eps,
            TextLen = f.OptionalInt("text_len") ?? defaults.TextLen,
            TextDim = f.OptionalInt("text_dim") ?? textDimFromWeights,
            PatchSize = f.OptionalIntArray("patch_size", 3) ?? defaults.PatchSize,
            QkNorm = f.OptionalBool("qk_norm") ?? defaults.QkNorm,
            CrossAttnNorm = f.OptionalBool("cross_attn_norm") ?? defaults.CrossAttnNorm,
        };
    }

    static WanConfig ReadDiffusers(Fields f)
    {
        foreach (string imageKey in new[] { "added_kv_proj_dim", "image_dim" })
            if (f.IsPresentNonNull(imageKey))
                throw new TurboException($"{f.Path}: {imageKey} is set: image-to-video Wan2.1 is not supported, only text-to-video");
        string? qkNorm = f.OptionalString("qk_norm");
        if (qkNorm is not null && qkNorm != "rms_norm_across_heads")
            throw new TurboException($"{f.Path}: qk_norm '{qkNorm}' is not supported: Wan2.1 uses rms_norm_across_heads (or null)");
        int heads = f.Int("num_attention_heads");
        var defaults = new WanConfig();
        return new WanConfig
        {
            Dim = heads * f.Int("attention_head_dim"),
            NumHeads = heads,
            FfnDim = f.Int("ffn_dim"),
            NumLayers = f.Int("num_layers"),
            InDim = f.Int("in_channels"),
            OutDim = f.Int("out_channels"),
            TextDim = f.Int("text_dim"),
            FreqDim = f.OptionalInt("freq_dim") ?? defaults.FreqDim,
            Eps = f.OptionalDouble("eps") ?? defaults.Eps,
            // Not a diffusers key (its pipeline pads prompts to 512 tokens); models trained with shorter prompts record it.
            TextLen = f.OptionalInt("text_len") ?? defaults.TextLen,
            PatchSize = f.OptionalIntArray("patch_size", 3) ?? defaults.PatchSize,
            QkNorm = qkNorm is not null,
            CrossAttnNorm = f.OptionalBool("cross_attn_norm") ?? defaults.CrossAttnNorm,
        };
    }

    /// <summary>The config.json that sits beside weights of this format (keys as the upstream releases write them).</summary>
    public static string Write(WanConfig c, WanConfigFormat format)
    {
        var json = format switch
        {
            WanConfigFormat.Original => new JsonObject
            {
                ["_class_name"] = "WanModel",
                ["dim"] = c.Dim,
                ["eps"] = c.Eps,
                ["ffn_dim"] = c.FfnDim,
                ["freq_dim"] = c.FreqDim,
                ["in_dim"] = c.InDim,
                ["model_type"] = "t2v",
                ["num_heads"] = c.NumHeads,
                ["num_layers"] = c.NumLayers,
                ["out_dim"] = c.OutDim,
                ["text_len"] = c.TextLen,
            },
            WanConfigFormat.Diffusers => new JsonObject
            {
                ["_class_name"] = "WanTransformer3DModel",
                ["patch_size"] = new JsonArray(c.PatchSize.Select(p => (JsonNode)p).ToArray()),
                ["num_attention_heads"] = c.NumHeads,
                ["attention_head_dim"] = c.HeadDim,
                ["in_channels"] = c.InDim,
                ["out_channels"] = c.OutDim,
                ["text_dim"] = c.TextDim,
                ["freq_dim"] = c.FreqDim,
                ["ffn_dim"] = c.FfnDim,
                ["num_layers"] = c.NumLayers,
                ["cross_attn_norm"] = c.CrossAttnNorm,
                ["qk_norm"] = c.QkNorm ? "rms_norm_across_heads" : null,
                ["eps"] = c.Eps,
                ["added_kv_proj_dim"] = null,
                ["image_dim"] = null,
                ["rope_max_seq_len"] = 1024,
                ["pos_embed_seq_len"] = null,
                ["text_len"] = c.TextLen,
            },
            _ => throw new ArgumentOutOfRangeException(nameof(format)),
        };
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Typed access to config keys with one-line errors naming the file and key.</summary>
    sealed class Fields(string path, JsonObject json)
    {
        public string Path => path;

        public bool IsPresentNonNull(string key) => json[key] is not null;

        public int Int(string key) =>
            OptionalInt(key) ?? throw new TurboException($"{path}: config key '{key}' is missing (expected an integer)");

        public int? OptionalInt(string key) => Get(key, "a positive integer", n =>
            n.GetValueKind() == JsonValueKind.Number && n.GetValue<double>() is var v && v == Math.Floor(v) && v > 0 && v < int.MaxValue
                ? (int)v : (int?)null);

        public double? OptionalDouble(string key) => Get(key, "a number", n =>
            n.GetValueKind() == JsonValueKind.Number ? n.GetValue<double>() : (double?)null);

        public bool? OptionalBool(string key) => Get(key, "true or false", n =>
            n.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? n.GetValue<bool>() : (bool?)null);

        public string? OptionalString(string key) => json[key] is null ? null : Get(key, "a string", n =>
            n.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : null);

        public int[]? OptionalIntArray(string key, int length) => Get(key, $"an array of {length} positive integers", n =>
            n is JsonArray a && a.Count == length
            && a.All(e => e is not null && e.GetValueKind() == JsonValueKind.Number && e.GetValue<double>() is var v && v == Math.Floor(v) && v > 0)
                ? a.Select(e => (int)e!.GetValue<double>()).ToArray()
                : null);

        T? Get<T>(string key, string expected, Func<JsonNode, T?> convert)
        {
            var node = json[key];
            if (node is null) return default;
            return convert(node) ?? throw new TurboException($"{path}: config key '{key}' is {node.ToJsonString()}, expected {expected}");
        }
    }
}
