using System.Text.Json;

namespace Turbo.Runtime.Models;

/// <summary>
/// Configuration of a UMT5 text encoder, with the field meanings of transformers' <c>UMT5Config</c>
/// (<c>config.json</c> keys in brackets). Only the gated-GELU feed-forward (<c>feed_forward_proj: "gated-gelu"</c>,
/// the one every released UMT5 uses) is supported.
/// </summary>
public sealed record Umt5Config
{
    /// <summary>[vocab_size] rows of the token embedding.</summary>
    public int VocabSize { get; init; } = 256384;
    /// <summary>[d_model] width of the residual stream and of the output.</summary>
    public int DModel { get; init; } = 4096;
    /// <summary>[d_kv] width of one attention head.</summary>
    public int DKv { get; init; } = 64;
    /// <summary>[d_ff] hidden width of the feed-forward.</summary>
    public int DFf { get; init; } = 10240;
    /// <summary>[num_layers] encoder blocks.</summary>
    public int NumLayers { get; init; } = 24;
    /// <summary>[num_heads] attention heads.</summary>
    public int NumHeads { get; init; } = 64;
    /// <summary>[relative_attention_num_buckets] relative-position buckets, half per direction in the encoder.</summary>
    public int RelativeAttentionNumBuckets { get; init; } = 32;
    /// <summary>[relative_attention_max_distance] distance from which on all positions share the last bucket.</summary>
    public int RelativeAttentionMaxDistance { get; init; } = 128;
    /// <summary>[layer_norm_epsilon] added to the mean square in the RMS norms.</summary>
    public double LayerNormEpsilon { get; init; } = 1e-6;

    /// <summary>Width of all heads together (q, k, v outputs; o input).</summary>
    public int InnerDim => NumHeads * DKv;

    /// <summary>umt5-xxl, the text encoder of Wan2.1 (transformers' google/umt5-xxl encoder).</summary>
    public static Umt5Config Xxl => new();

    /// <summary>Reads a transformers <c>config.json</c> (or the same JSON from a safetensors metadata entry).</summary>
    public static Umt5Config FromFile(string path)
    {
        string json;
        try { json = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TurboException($"{path}: cannot read the UMT5 config ({e.Message})");
        }
        return FromJson(json, path);
    }

    /// <summary>The config a weights file carries as JSON in its metadata entry <c>config</c>.</summary>
    public static Umt5Config FromMetadata(IReadOnlyDictionary<string, string> metadata, string source) =>
        metadata.TryGetValue("config", out var json)
            ? FromJson(json, source + " (metadata \"config\")")
            : throw new TurboException($"{source}: no UMT5 config in the metadata (expected a \"config\" entry)");

    /// <summary>
    /// Parses transformers' UMT5 config JSON. vocab_size, d_model, d_kv, d_ff, num_layers and num_heads are required;
    /// the relative-attention settings and the epsilon default to transformers' defaults when absent.
    /// </summary>
    public static Umt5Config FromJson(string json, string source)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new TurboException($"{source}: the UMT5 config is not valid JSON ({e.Message})"); }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new TurboException($"{source}: the UMT5 config must be a JSON object");
            if (OptionalString(root, "model_type", source) is { } modelType && modelType != "umt5")
                throw new TurboException($"{source}: model_type \"{modelType}\" is not a UMT5 config (expected \"umt5\")");
            string feedForward = OptionalString(root, "feed_forward_proj", source) ?? "gated-gelu";
            if (feedForward != "gated-gelu")
                throw new TurboException($"{source}: feed_forward_proj \"{feedForward}\" is not supported (expected \"gated-gelu\")");

            var defaults = new Umt5Config();
            var config = new Umt5Config
            {
                VocabSize = RequiredInt(root, "vocab_size", source),
                DModel = RequiredInt(root, "d_model", source),
                DKv = RequiredInt(root, "d_kv", source),
                DFf = RequiredInt(root, "d_ff", source),
                NumLayers = RequiredInt(root, "num_layers", source),
                NumHeads = RequiredInt(root, "num_heads", source),
                RelativeAttentionNumBuckets =
                    OptionalInt(root, "relative_attention_num_buckets", source) ?? defaults.RelativeAttentionNumBuckets,
                RelativeAttentionMaxDistance =
                    OptionalInt(root, "relative_attention_max_distance", source) ?? defaults.RelativeAttentionMaxDistance,
                LayerNormEpsilon = OptionalDouble(root, "layer_norm_epsilon", source) ?? defaults.LayerNormEpsilon,
            };
            config.Validate(source);
            return config;
        }
    }

    /// <summary>transformers' config.json for a <c>UMT5EncoderModel</c> of this config (what <see cref="FromJson"/> reads).</summary>
    public string ToJson() => new System.Text.Json.Nodes.JsonObject
    {
        ["architectures"] = new System.Text.Json.Nodes.JsonArray("UMT5EncoderModel"),
        ["model_type"] = "umt5",
        ["vocab_size"] = VocabSize,
        ["d_model"] = DModel,
        ["d_kv"] = DKv,
        ["d_ff"] = DFf,
        ["num_layers"] = NumLayers,
        ["num_heads"] = NumHeads,
        ["relative_attention_num_buckets"] = RelativeAttentionNumBuckets,
        ["relative_attention_max_distance"] = RelativeAttentionMaxDistance,
        ["layer_norm_epsilon"] = LayerNormEpsilon,
        ["feed_forward_proj"] = "gated-gelu",
        ["dense_act_fn"] = "gelu_new",
        ["is_gated_act"] = true,
        ["tie_word_embeddings"] = false,
        ["dropout_rate"] = 0.0,
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>Throws a <see cref="TurboException"/> naming <paramref name="source"/> when a value cannot work.</summary>
    public void Validate(string source = "UMT5 config")
    {
        void Positive(int value, string key)
        {
            if (value <= 0) throw new TurboException($"{source}: {key} must be positive, found {value}");
        }
        Positive(VocabSize, "vocab_size");
        Positive(DModel, "d_model");
        Positive(DKv, "d_kv");
        Positive(DFf, "d_ff");
        Positive(NumHeads, "num_heads");
        if (NumLayers < 0) throw new TurboException($"{source}: num_layers must not be negative, found {NumLayers}");
        // Each direction needs at least one exact bucket and one logarithmic bucket: num_buckets/2 ≥ 2.
        if (RelativeAttentionNumBuckets < 4)
            throw new TurboException(
                $"{source}: relative_attention_num_buckets must be at least 4, found {RelativeAttentionNumBuckets}");
        int maxExact = RelativeAttentionNumBuckets / 2 / 2;
        if (RelativeAttentionMaxDistance <= maxExact)
            throw new TurboException(
                $"{source}: relative_attention_max_distance must exceed {maxExact} (a quarter of the buckets), found {RelativeAttentionMaxDistance}");
        if (!(LayerNormEpsilon > 0) || double.IsInfinity(LayerNormEpsilon))
            throw new TurboException($"{source}: layer_norm_epsilon must be a positive number, found {LayerNormEpsilon}");
    }

    static int RequiredInt(JsonElement root, string key, string source) =>
        OptionalInt(root, key, source) ?? throw new TurboException($"{source}: the UMT5 config lacks \"{key}\"");

    static int? OptionalInt(JsonElement root, string key, string source)
    {
        if (!root.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int number)) return number;
        throw new TurboException($"{source}: \"{key}\" must be an integer, found {value.GetRawText()}");
    }

    static double? OptionalDouble(JsonElement root, string key, string source)
    {
        if (!root.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind == JsonValueKind.Number) return value.GetDouble();
        throw new TurboException($"{source}: \"{key}\" must be a number, found {value.GetRawText()}");
    }

    static string? OptionalString(JsonElement root, string key, string source)
    {
        if (!root.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind == JsonValueKind.String) return value.GetString();
        throw new TurboException($"{source}: \"{key}\" must be a string, found {value.GetRawText()}");
    }
}
