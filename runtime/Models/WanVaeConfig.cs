using System.Text.Json;

namespace Turbo.Runtime.Models;

/// <summary>
/// Configuration of the Wan2.1 video VAE, with diffusers' <c>AutoencoderKLWan</c> field meanings (the
/// <c>config.json</c> of a diffusers <c>vae/</c> folder). The defaults are Wan2.1's own VAE.
/// </summary>
public sealed record WanVaeConfig
{
    /// <summary>Wan2.1's per-channel latent mean (z_dim 16), hard-coded upstream in <c>WanVAE</c> and <c>AutoencoderKLWan</c>.</summary>
    public static IReadOnlyList<double> Wan21LatentsMean { get; } =
    [
        -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
        0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
    ];

    /// <summary>Wan2.1's per-channel latent standard deviation (z_dim 16).</summary>
    public static IReadOnlyList<double> Wan21LatentsStd { get; } =
    [
        2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
        3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160,
    ];

    public int BaseDim { get; init; } = 96;
    /// <summary>The decoder's base width; null means <see cref="BaseDim"/>.</summary>
    public int? DecoderBaseDim { get; init; }
    public int ZDim { get; init; } = 16;
    public int[] DimMult { get; init; } = [1, 2, 4, 4];
    public int NumResBlocks { get; init; } = 2;
    /// <summary>Per encoder stage but the last: whether its downsampling also halves time (upstream's spelling "temperal").</summary>
    public bool[] TemperalDownsample { get; init; } = [false, true, true];
    public int InChannels { get; init; } = 3;
    public int OutChannels { get; init; } = 3;
    /// <summary>Per-channel latent mean for <see cref="WanVae.Normalize"/>; null means Wan2.1's (z_dim 16 only).</summary>
    public double[]? LatentsMean { get; init; }
    /// <summary>Per-channel latent standard deviation; null means Wan2.1's (z_dim 16 only).</summary>
    public double[]? LatentsStd { get; init; }

    public static WanVaeConfig Wan21 => new();

    public int DecoderDim => DecoderBaseDim ?? BaseDim;

    /// <summary>Video pixels per latent pixel along height and width: 2 per downsampling stage.</summary>
    public int SpatialCompression => 1 << (DimMult.Length - 1);

    /// <summary>Video frames per latent frame after the first: 2 per temporal downsampling.</summary>
    public int TemporalCompression => 1 << TemperalDownsample.Count(t => t);

    /// <summary>The latent mean to normalise with, or null when neither the config nor Wan2.1's defaults fit z_dim.</summary>
    public IReadOnlyList<double>? ResolvedLatentsMean => LatentsMean ?? (ZDim == Wan21LatentsMean.Count ? Wan21LatentsMean : null);

    public IReadOnlyList<double>? ResolvedLatentsStd => LatentsStd ?? (ZDim == Wan21LatentsStd.Count ? Wan21LatentsStd : null);

    /// <summary>
    /// Reads a diffusers <c>AutoencoderKLWan</c> config (a <c>config.json</c>, or the JSON a weights file carries in its
    /// metadata). Absent fields keep their defaults; fields of VAE variants this model does not implement (Wan2.2's
    /// residual blocks and patchified input, attention inside the encoder stages) are rejected.
    /// </summary>
    public static WanVaeConfig FromJson(string json, string source)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new TurboException($"{source}: not valid JSON ({e.Message})"); }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new TurboException($"{source}: expected a JSON object");
            var reader = new Reader(root, source);
            if (reader.String("_class_name") is { } className && className != "AutoencoderKLWan")
                throw new TurboException($"{source}: _class_name {className}: expected AutoencoderKLWan");
            if (reader.Bool("is_residual") == true)
                throw new TurboException($"{source}: is_residual true (the Wan2.2 VAE) is not supported: expected false");
            if (reader.Int("patch_size") is { } patch && patch > 1)
                throw new TurboException($"{source}: patch_size {patch} (the Wan2.2 VAE) is not supported: expected null");
            if (reader.Doubles("attn_scales") is { Length: > 0 })
                throw new TurboException($"{source}: attn_scales must be empty (attention inside encoder stages is not supported)");

            var defaults = new WanVaeConfig();
            return new WanVaeConfig
            {
                BaseDim = reader.Int("base_dim") ?? defaults.BaseDim,
                DecoderBaseDim = reader.Int("decoder_base_dim"),
                ZDim = reader.Int("z_dim") ?? defaults.ZDim,
                DimMult = reader.Ints("dim_mult") ?? defaults.DimMult,
                NumResBlocks = reader.Int("num_res_blocks") ?? defaults.NumResBlocks,
                TemperalDownsample = reader.Bools("temperal_downsample") ?? defaults.TemperalDownsample,
                InChannels = reader.Int("in_channels") ?? defaults.InChannels,
                OutChannels = reader.Int("out_channels") ?? defaults.OutChannels,
                LatentsMean = reader.Doubles("latents_mean"),
                LatentsStd = reader.Doubles("latents_std"),
            };
        }
    }

    /// <summary>The diffusers <c>AutoencoderKLWan</c> config.json of this config (what <see cref="FromJson"/> reads).</summary>
    public string ToJson()
    {
        static System.Text.Json.Nodes.JsonArray Array<T>(IEnumerable<T> values) => new(values.Select(v => System.Text.Json.Nodes.JsonValue.Create(v)).ToArray<System.Text.Json.Nodes.JsonNode?>());
        var json = new System.Text.Json.Nodes.JsonObject
        {
            ["_class_name"] = "AutoencoderKLWan",
            ["base_dim"] = BaseDim,
            ["decoder_base_dim"] = DecoderBaseDim,
            ["z_dim"] = ZDim,
            ["dim_mult"] = Array(DimMult),
            ["num_res_blocks"] = NumResBlocks,
            ["attn_scales"] = new System.Text.Json.Nodes.JsonArray(),
            ["temperal_downsample"] = Array(TemperalDownsample),
            ["dropout"] = 0.0,
            ["in_channels"] = InChannels,
            ["out_channels"] = OutChannels,
            ["is_residual"] = false,
            ["latents_mean"] = ResolvedLatentsMean is { } mean ? Array(mean) : null,
            ["latents_std"] = ResolvedLatentsStd is { } std ? Array(std) : null,
        };
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Throws a <see cref="TurboException"/> naming the first field that cannot build a model.</summary>
    public void Validate()
    {
        if (BaseDim <= 0 || DecoderDim <= 0 || ZDim <= 0 || InChannels <= 0 || OutChannels <= 0)
            throw new TurboException("Wan VAE config: base_dim, decoder_base_dim, z_dim, in_channels, out_channels must be positive");
        if (DimMult is not { Length: > 0 } || DimMult.Any(m => m <= 0))
            throw new TurboException("Wan VAE config: dim_mult must be a non-empty list of positive integers");
        if (NumResBlocks < 1)
            throw new TurboException($"Wan VAE config: num_res_blocks {NumResBlocks} must be at least 1");
        if (TemperalDownsample.Length != DimMult.Length - 1)
            throw new TurboException(
                $"Wan VAE config: temperal_downsample has {TemperalDownsample.Length} entries, expected {DimMult.Length - 1} (one per stage but the last)");
        // Encoding runs on chunks of 4 frames, each of which must leave at least one latent frame.
        if (TemporalCompression > 4)
            throw new TurboException($"Wan VAE config: at most 2 temporal downsamplings are supported, found {TemperalDownsample.Count(t => t)}");
        if (LatentsMean is not null && LatentsMean.Length != ZDim)
            throw new TurboException($"Wan VAE config: latents_mean has {LatentsMean.Length} values, expected z_dim = {ZDim}");
        if (LatentsStd is not null && LatentsStd.Length != ZDim)
            throw new TurboException($"Wan VAE config: latents_std has {LatentsStd.Length} values, expected z_dim = {ZDim}");
        if (LatentsStd is not null && LatentsStd.Any(s => !(s > 0)))
            throw new TurboException("Wan VAE config: latents_std values must be positive");
    }

    /// <summary>Typed access to optional JSON fields; a field of the wrong type is a one-line error naming it.</summary>
    readonly struct Reader(JsonElement root, string source)
    {
        JsonElement? Field(string name) =>
            root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

        TurboException Wrong(string name, string expected) => new($"{source}: field {name}: expected {expected}");

        public string? String(string name) => Field(name) is { } v
            ? v.ValueKind == JsonValueKind.String ? v.GetString() : throw Wrong(name, "a string")
            : null;

        public bool? Bool(string name) => Field(name) is { } v
            ? v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Wrong(name, "true or false")
            : null;

        public int? Int(string name) => Field(name) is { } v
            ? v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : throw Wrong(name, "an integer")
            : null;

        public double[]? Doubles(string name) => Field(name) is { } v
            ? v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number)
                ? v.EnumerateArray().Select(e => e.GetDouble()).ToArray()
                : throw Wrong(name, "a list of numbers")
            : null;

        public int[]? Ints(string name) => Field(name) is { } v
            ? v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out _))
                ? v.EnumerateArray().Select(e => e.GetInt32()).ToArray()
                : throw Wrong(name, "a list of integers")
            : null;

        public bool[]? Bools(string name) => Field(name) is { } v
            ? v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(e => e.ValueKind is JsonValueKind.True or JsonValueKind.False)
                ? v.EnumerateArray().Select(e => e.GetBoolean()).ToArray()
                : throw Wrong(name, "a list of true/false")
            : null;
    }
}
