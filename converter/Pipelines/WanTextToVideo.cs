using System.Text.Json;
using System.Text.Json.Nodes;
using Turbo.Converter.Checkpoints;
using Turbo.Converter.Running;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Runtime.Packaging;
using Turbo.Runtime.Sampling;
using Turbo.Runtime.Text;
using static TorchSharp.torch;

namespace Turbo.Converter.Pipelines;

/// <summary>
/// What a pipeline samples when not told otherwise (model_index.json, "_sample_defaults"; a package's sampler and
/// video size): clip size, steps, CFG guidance, flow shift, and the solver (<see cref="FlowSolvers"/>) — UniPC for a
/// diffusion model, "rcm" for a distilled student (1–4 steps, guidance 1); explicit noise levels (<see cref="Times"/>)
/// replace the solver's own schedule. <see cref="Shift"/> matters to the shifted grid only.
/// </summary>
public sealed record SampleSettings(int Frames, int Height, int Width, int Steps, double Guidance, double Shift)
{
    public string Solver { get; init; } = FlowSolvers.UniPc;
    public IReadOnlyList<double>? Times { get; init; }

    /// <summary>A package's sampler at its video size.</summary>
    public static SampleSettings From(SamplerSettings sampler, VideoSettings video) =>
        new(video.Frames, video.Height, video.Width, sampler.Steps, sampler.Guidance, sampler.Shift) { Solver = sampler.Solver, Times = sampler.Times };

    public SamplerSettings Sampler => new() { Solver = Solver, Steps = Steps, Shift = Shift, Guidance = Guidance, Times = Times };

    public VideoSettings Video => new(Frames, Height, Width);

    /// <summary>The noise levels and timesteps sampled (refuses a solver, step count or time list that do not fit).</summary>
    public FlowMatchSchedule Schedule => Sampler.Schedule;

    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["frames"] = Frames, ["height"] = Height, ["width"] = Width,
            ["steps"] = Steps, ["guidance_scale"] = Guidance, ["flow_shift"] = Shift,
        };
        if (Solver != FlowSolvers.UniPc) json["solver"] = Solver;
        if (Times is not null) json["times"] = new JsonArray(Times.Select(t => (JsonNode?)t).ToArray());
        return json;
    }

    public static SampleSettings FromJson(JsonElement e, string source)
    {
        int Int(string key) => e.TryGetProperty(key, out var v) && v.TryGetInt32(out int i) && i > 0 ? i
            : throw new TurboException($"{source}: _sample_defaults.{key} must be a positive integer");
        double Double(string key) => e.TryGetProperty(key, out var v) && v.TryGetDouble(out double d) && double.IsFinite(d) && d > 0 ? d
            : throw new TurboException($"{source}: _sample_defaults.{key} must be a positive number");
        string solver = FlowSolvers.UniPc;
        if (e.TryGetProperty("solver", out var name))
            solver = name.ValueKind == JsonValueKind.String && FlowSolvers.Names.Contains(name.GetString()) ? name.GetString()!
                : throw new TurboException($"{source}: _sample_defaults.solver must be one of {string.Join(", ", FlowSolvers.Names)}");
        double[]? times = null;
        if (e.TryGetProperty("times", out var list))
            times = list.ValueKind == JsonValueKind.Array && list.EnumerateArray().All(t => t.ValueKind == JsonValueKind.Number)
                ? list.EnumerateArray().Select(t => t.GetDouble()).ToArray()
                : throw new TurboException($"{source}: _sample_defaults.times must be an array of noise levels");
        var settings = new SampleSettings(Int("frames"), Int("height"), Int("width"), Int("steps"), Double("guidance_scale"), Double("flow_shift"))
        {
            Solver = solver,
            Times = times,
        };
        try { _ = settings.Schedule; }
        catch (TurboException bad) { throw new TurboException($"{source}: _sample_defaults: {bad.Message}"); }
        return settings;
    }
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
        var defaults = ReadIndex(root);
        return Assemble(root, Path.Combine(root, "tokenizer"), Path.Combine(root, "text_encoder"), Path.Combine(root, "vae"), defaults, () =>
        {
            using var checkpoint = AdaptedCheckpoints.OpenWan(Path.Combine(root, "transformer"), null);
            return WanModelLoader.Load(checkpoint, transformerDtype, device);
        }, device);
    }

    /// <summary>
    /// Loads a package (<see cref="PackageFolder.Open"/> verifies its version and every file's hash first): its text
    /// encoder, tokenizer and VAE, its transformer with the attention and Linear kinds its manifest names, its sampler.
    /// </summary>
    /// <param name="verified">the manifest, when the caller has just opened the package (its hashes need not be checked twice)</param>
    public static WanTextToVideo LoadPackage(string folder, Device device, ScalarType transformerDtype, PackageManifest? verified = null)
    {
        var manifest = verified ?? PackageFolder.Open(folder);
        _ = manifest.Sampler.Schedule; // refuses an unknown solver or bad times now
        var parts = manifest.Components;
        return Assemble(folder, PackageFolder.Resolve(folder, parts.Tokenizer), PackageFolder.Resolve(folder, parts.TextEncoder),
            PackageFolder.Resolve(folder, parts.Vae), SampleSettings.From(manifest.Sampler, manifest.Video),
            () => WanPackage.LoadTransformer(folder, manifest, transformerDtype, device), device);
    }

    static WanTextToVideo Assemble(string root, string tokenizerFolder, string textEncoderFolder, string vaeFolder, SampleSettings defaults,
        Func<WanModel> loadTransformer, Device device)
    {
        var tokenizer = WordTokenizer.Load(Path.Combine(tokenizerFolder, TokenizerFile));
        var parts = new List<IDisposable>();
        try
        {
            var textEncoder = Umt5Encoder.FromCheckpoint(textEncoderFolder, ScalarType.Float32, device);
            parts.Add(textEncoder);
            if (textEncoder.Config.VocabSize < tokenizer.VocabSize)
                throw new TurboException($"{root}: the tokenizer has {tokenizer.VocabSize} words, the text encoder only {textEncoder.Config.VocabSize}");
            var transformer = loadTransformer();
            parts.Add(transformer);
            if (transformer.Config.TextDim != textEncoder.Config.DModel)
                throw new TurboException($"{root}: the transformer expects text_dim {transformer.Config.TextDim}, the text encoder gives {textEncoder.Config.DModel}");
            var vae = WanVae.FromCheckpoint(vaeFolder, device);
            parts.Add(vae);
            if (vae.Config.ZDim != transformer.Config.InDim)
                throw new TurboException($"{root}: the VAE has z_dim {vae.Config.ZDim}, the transformer in_channels {transformer.Config.InDim}");
            if (vae.Config.ResolvedLatentsMean is null || vae.Config.ResolvedLatentsStd is null)
                throw new TurboException($"{vaeFolder}/config.json: latents_mean and latents_std are needed to sample");
            textEncoder.eval();
            return new WanTextToVideo { Tokenizer = tokenizer, TextEncoder = textEncoder, Transformer = transformer, Vae = vae, Defaults = defaults };
        }
        catch
        {
            foreach (var part in parts) part.Dispose();
            throw;
        }
    }

    /// <summary>The sampling defaults of a diffusers-layout folder (its model_index.json; a one-line error when it has none).</summary>
    public static SampleSettings ReadIndex(string root)
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
    public Tensor Generate(IReadOnlyList<string> prompts, long seed, SampleSettings settings, SamplingProgress? progress = null, long firstIndex = 0) =>
        GenerateTimed(prompts, seed, settings, progress, firstIndex).Videos;

    /// <summary><see cref="Generate"/>, with the wall time of each part: prompt encoding, denoising, VAE decoding.</summary>
    public GeneratedVideos GenerateTimed(IReadOnlyList<string> prompts, long seed, SampleSettings settings, SamplingProgress? progress = null, long firstIndex = 0)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var device = Transformer.Device;
        double encoded = 0;
        var latents = GenerateLatents(prompts, seed, settings, progress, firstIndex, () => encoded = Synchronized(clock, device));
        double denoised = Synchronized(clock, device);
        var videos = Vae.Decode(Vae.Denormalize(latents)).cpu().MoveToOuterDisposeScope();
        double decoded = Synchronized(clock, device);
        return new GeneratedVideos(videos, encoded, denoised - encoded, decoded - denoised, settings.Steps);
    }

    /// <summary>
    /// Final latents [B, ZDim, F, h, w] (normalised, on the model's device) for the prompts, with the settings' sampler
    /// and guidance against the empty prompt. Clip i draws its noise (the starting noise, and the rCM sampler's fresh
    /// noise at each step) from its own generator seeded by (<paramref name="seed"/>, <paramref name="firstIndex"/> + i),
    /// so a clip does not depend on the batch it was generated in.
    /// </summary>
    /// <param name="promptsEncoded">called once the prompts are encoded, before denoising starts (for timing)</param>
    public Tensor GenerateLatents(IReadOnlyList<string> prompts, long seed, SampleSettings settings, SamplingProgress? progress = null,
        long firstIndex = 0, Action? promptsEncoded = null)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var device = Transformer.Device;
        var schedule = settings.Schedule;
        var shape = LatentShape(1, settings);
        var generators = prompts.Select((_, i) => new Generator((ulong)(seed * 1_000_003 + firstIndex + i))).ToArray();
        try
        {
            Tensor ClipNoise() => cat(generators.Select(g => randn(shape, generator: g)).ToArray(), 0).to(device);
            var noise = ClipNoise();
            var context = EncodePrompts(prompts);
            var negative = EncodePrompts([""]).expand(prompts.Count, -1, -1);
            promptsEncoded?.Invoke();
            var velocity = ClassifierFreeGuidance.Guided((x, t, c) => Transformer.Forward(x, t, c), context, negative, settings.Guidance);
            var sampler = FlowSolvers.Create(settings.Solver, _ => ClipNoise());
            return sampler.Sample(velocity, noise, schedule, progress).MoveToOuterDisposeScope();
        }
        finally
        {
            foreach (var g in generators) g.Dispose();
        }
    }

    /// <summary>Seconds on the clock once the device has finished its queued work (CUDA runs asynchronously).</summary>
    static double Synchronized(System.Diagnostics.Stopwatch clock, Device device)
    {
        if (device.type == TorchSharp.DeviceType.CUDA) TorchSharp.torch.cuda.synchronize(device);
        return clock.Elapsed.TotalSeconds;
    }

    public void Dispose()
    {
        TextEncoder.Dispose();
        Transformer.Dispose();
        Vae.Dispose();
    }
}

/// <summary>Generated clips [B, 3, T, H, W] (the caller disposes them) and the seconds each part of the pipeline took.</summary>
public sealed record GeneratedVideos(Tensor Videos, double EncodeSeconds, double DenoiseSeconds, double DecodeSeconds, int Steps)
{
    public double TotalSeconds => EncodeSeconds + DenoiseSeconds + DecodeSeconds;
}
