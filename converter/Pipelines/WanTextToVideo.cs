using System.Text.Json;
using System.Text.Json.Nodes;
using Turbo.Converter.Checkpoints;
using Turbo.Converter.Running;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Runtime.Sampling;
using Turbo.Runtime.Text;
using static TorchSharp.torch;

namespace Turbo.Converter.Pipelines;

/// <summary>
/// What a pipeline samples when not told otherwise (model_index.json, "_sample_defaults"). <see cref="Sampler"/> is
/// UniPC over the shifted grid unless the folder says "rcm" (a distilled student: <see cref="Steps"/> 1–4 from
/// <see cref="SigmaMax"/>, guidance 1); <see cref="Shift"/> matters to UniPC only.
/// </summary>
public sealed record SampleSettings(int Frames, int Height, int Width, int Steps, double Guidance, double Shift)
{
    public SamplerKind Sampler { get; init; } = SamplerKind.UniPc;
    public double SigmaMax { get; init; } = RcmSchedule.DefaultSigmaMax;

    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["frames"] = Frames, ["height"] = Height, ["width"] = Width,
            ["steps"] = Steps, ["guidance_scale"] = Guidance, ["flow_shift"] = Shift,
        };
        if (Sampler == SamplerKind.Rcm)
        {
            json["sampler"] = SamplerNames[SamplerKind.Rcm];
            json["sigma_max"] = SigmaMax;
        }
        return json;
    }

    public static SampleSettings FromJson(JsonElement e, string source)
    {
        int Int(string key) => e.TryGetProperty(key, out var v) && v.TryGetInt32(out int i) && i > 0 ? i
            : throw new TurboException($"{source}: _sample_defaults.{key} must be a positive integer");
        double Double(string key) => e.TryGetProperty(key, out var v) && v.TryGetDouble(out double d) && double.IsFinite(d) && d > 0 ? d
            : throw new TurboException($"{source}: _sample_defaults.{key} must be a positive number");
        var sampler = SamplerKind.UniPc;
        if (e.TryGetProperty("sampler", out var name))
            sampler = name.ValueKind == JsonValueKind.String && ParseSampler(name.GetString()!) is { } known ? known
                : throw new TurboException($"{source}: _sample_defaults.sampler must be one of {string.Join(", ", SamplerNames.Values)}");
        var settings = new SampleSettings(Int("frames"), Int("height"), Int("width"), Int("steps"), Double("guidance_scale"), Double("flow_shift"))
        {
            Sampler = sampler,
            SigmaMax = e.TryGetProperty("sigma_max", out _) ? Double("sigma_max") : RcmSchedule.DefaultSigmaMax,
        };
        if (sampler == SamplerKind.Rcm) RcmSchedule.TrigFlowTimes(settings.Steps, settings.SigmaMax); // refuses bad steps or sigma_max now
        return settings;
    }

    /// <summary>The sampler's name in model_index.json and on command lines.</summary>
    public static readonly IReadOnlyDictionary<SamplerKind, string> SamplerNames =
        new Dictionary<SamplerKind, string> { [SamplerKind.UniPc] = "unipc", [SamplerKind.Rcm] = "rcm" };

    public static SamplerKind? ParseSampler(string name) =>
        SamplerNames.Where(kv => kv.Value == name).Select(kv => (SamplerKind?)kv.Key).FirstOrDefault();
}

/// <summary>
/// A Wan2.1 text-to-video model in the layout of a diffusers repository — model_index.json, tokenizer/,
/// text_encoder/ (UMT5), transformer/ (the DiT), vae/ — run as Wan's pipeline runs it: prompts → UMT5 embeddings
/// (zero past each prompt's tokens) → flow-matching sampling (UniPC, or the rCM sampler of a distilled student) with
/// classifier-free guidance against the empty prompt → VAE decode of the de-normalised latents.
/// </summary>
public sealed class WanTextToVideo : IDisposable
{
    public const string IndexFile = "model_index.json", TokenizerFile = "vocab.json";

    public required WordTokenizer Tokenizer { get; init; }
    public required Umt5Encoder TextEncoder { get; init; }
    public required WanModel Transformer { get; init; }
    public required WanVae Vae { get; init; }
    public required SampleSettings Defaults { get; init; }

    /// <summary>Loads every part from <paramref name="root"/>; a missing or inconsistent part is a TurboException naming it.</summary>
    public static WanTextToVideo Load(string root, Device device, ScalarType transformerDtype)
    {
        var defaults = ReadDefaults(root);
        var tokenizer = WordTokenizer.Load(Path.Combine(root, "tokenizer", TokenizerFile));
        var parts = new List<IDisposable>();
        try
        {
            var textEncoder = Umt5Encoder.FromCheckpoint(Path.Combine(root, "text_encoder"), ScalarType.Float32, device);
            parts.Add(textEncoder);
            if (textEncoder.Config.VocabSize < tokenizer.VocabSize)
                throw new TurboException($"{root}: the tokenizer has {tokenizer.VocabSize} words, the text encoder only {textEncoder.Config.VocabSize}");
            using var checkpoint = AdaptedCheckpoints.OpenWan(Path.Combine(root, "transformer"), null);
            var transformer = WanModelLoader.Load(checkpoint, transformerDtype, device);
            parts.Add(transformer);
            if (transformer.Config.TextDim != textEncoder.Config.DModel)
                throw new TurboException($"{root}: the transformer expects text_dim {transformer.Config.TextDim}, the text encoder gives {textEncoder.Config.DModel}");
            var vae = WanVae.FromCheckpoint(Path.Combine(root, "vae"), device);
            parts.Add(vae);
            if (vae.Config.ZDim != transformer.Config.InDim)
                throw new TurboException($"{root}: the VAE has z_dim {vae.Config.ZDim}, the transformer in_channels {transformer.Config.InDim}");
            if (vae.Config.ResolvedLatentsMean is null || vae.Config.ResolvedLatentsStd is null)
                throw new TurboException($"{root}/vae/config.json: latents_mean and latents_std are needed to sample");
            textEncoder.eval();
            return new WanTextToVideo { Tokenizer = tokenizer, TextEncoder = textEncoder, Transformer = transformer, Vae = vae, Defaults = defaults };
        }
        catch
        {
            foreach (var part in parts) part.Dispose();
            throw;
        }
    }

    /// <summary>The sampler defaults the folder's model_index.json records (a one-line error when it has none).</summary>
    public static SampleSettings ReadDefaults(string root)
    {
        string path = Path.Combine(root, IndexFile);
        if (!File.Exists(path)) throw new TurboException($"{root}: no {IndexFile} (expected a diffusers-layout model folder)");
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(path));
            var index = json.RootElement;
            if (!index.TryGetProperty("_class_name", out var name) || name.GetString() != "WanPipeline")
                throw new TurboException($"{path}: _class_name must be WanPipeline");
            if (!index.TryGetProperty("_sample_defaults", out var defaults) || defaults.ValueKind != JsonValueKind.Object)
                throw new TurboException($"{path}: no _sample_defaults object (frames, height, width, steps, guidance_scale, flow_shift)");
            return SampleSettings.FromJson(defaults, path);
        }
        catch (JsonException e) { throw new TurboException($"{path}: not valid JSON ({e.Message})"); }
    }

    /// <summary>Prompt embeddings [B, TextLen, TextDim] on the model's device, zero past each prompt's tokens.</summary>
    public Tensor EncodePrompts(IReadOnlyList<string> prompts) => EncodePrompts(Tokenizer, TextEncoder, prompts, Transformer.Config.TextLen);

    /// <summary>Wan's prompt encoding: UMT5 over the tokens with their attention mask, zero past each prompt's tokens.</summary>
    public static Tensor EncodePrompts(WordTokenizer tokenizer, Umt5Encoder encoder, IReadOnlyList<string> prompts, int textLength)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var batch = tokenizer.EncodeBatch(prompts, textLength);
        var device = encoder.Device;
        var mask = batch.AttentionMask.to(device);
        var hidden = encoder.Forward(batch.InputIds.to(device), mask);
        return (hidden * mask.unsqueeze(-1).to(hidden.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>Latent shape [B, ZDim, F, h, w] of clips of the given size.</summary>
    public long[] LatentShape(int count, SampleSettings size)
    {
        var c = Vae.Config;
        if ((size.Frames - 1) % c.TemporalCompression != 0 || size.Height % (c.SpatialCompression * Transformer.Config.PatchSize[1]) != 0
            || size.Width % (c.SpatialCompression * Transformer.Config.PatchSize[2]) != 0)
            throw new TurboException($"video size {size.Frames}×{size.Height}×{size.Width}: frames must be 1 + {c.TemporalCompression}n and sides multiples of {c.SpatialCompression * Transformer.Config.PatchSize[1]}");
        return [count, c.ZDim, 1 + (size.Frames - 1) / c.TemporalCompression, size.Height / c.SpatialCompression, size.Width / c.SpatialCompression];
    }

    /// <summary>
    /// Videos [B, 3, T, H, W] in [−1, 1] (CPU float32) for the prompts: <see cref="GenerateLatents"/>, decoded.
    /// </summary>
    public Tensor Generate(IReadOnlyList<string> prompts, long seed, SampleSettings settings, SamplingProgress? progress = null, long firstIndex = 0)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var latents = GenerateLatents(prompts, seed, settings, progress, firstIndex);
        return Vae.Decode(Vae.Denormalize(latents)).cpu().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Final latents [B, ZDim, F, h, w] (normalised, on the model's device) for the prompts, with the settings' sampler
    /// and guidance against the empty prompt. Clip i draws its noise (the starting noise, and the rCM sampler's fresh
    /// noise at each step) from its own generator seeded by (<paramref name="seed"/>, <paramref name="firstIndex"/> + i),
    /// so a clip does not depend on the batch it was generated in.
    /// </summary>
    public Tensor GenerateLatents(IReadOnlyList<string> prompts, long seed, SampleSettings settings, SamplingProgress? progress = null, long firstIndex = 0)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var device = Transformer.Device;
        var shape = LatentShape(1, settings);
        var generators = prompts.Select((_, i) => new Generator((ulong)(seed * 1_000_003 + firstIndex + i))).ToArray();
        try
        {
            Tensor ClipNoise() => cat(generators.Select(g => randn(shape, generator: g)).ToArray(), 0).to(device);
            var noise = ClipNoise();
            var context = EncodePrompts(prompts);
            var negative = EncodePrompts([""]).expand(prompts.Count, -1, -1);
            var velocity = ClassifierFreeGuidance.Guided((x, t, c) => Transformer.Forward(x, t, c), context, negative, settings.Guidance);
            var (sampler, schedule) = settings.Sampler == SamplerKind.Rcm
                ? ((IFlowSampler)new RcmSampler(_ => ClipNoise()), RcmSchedule.Create(settings.Steps, settings.SigmaMax))
                : (new UniPcSampler(), FlowMatchSchedule.DiffusersUniPc(settings.Steps, settings.Shift));
            return sampler.Sample(velocity, noise, schedule, progress).MoveToOuterDisposeScope();
        }
        finally
        {
            foreach (var g in generators) g.Dispose();
        }
    }

    public void Dispose()
    {
        TextEncoder.Dispose();
        Transformer.Dispose();
        Vae.Dispose();
    }
}
