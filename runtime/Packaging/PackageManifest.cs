using System.Text.Json;
using System.Text.Json.Serialization;
using Turbo.Runtime.Models;
using Turbo.Runtime.Sampling;

namespace Turbo.Runtime.Packaging;

/// <summary>
/// <c>turbo.json</c>, the manifest of a package folder (docs/package-format.md): what the model is, what was done to
/// it, how to sample it, where its parts are, and a SHA-256 of every other file in the folder.
/// </summary>
public sealed record PackageManifest
{
    public const string FileName = "turbo.json";
    public const string Format = "turbo-package";
    /// <summary>Readers accept packages of this major version; writers write it.</summary>
    public const int CurrentVersion = 2;
    public const string TextToVideo = "text-to-video";

    [JsonPropertyName("format")] public string FormatName { get; init; } = Format;
    public int FormatVersion { get; init; } = CurrentVersion;
    public required string Family { get; init; }
    /// <summary>What the package does: "text-to-video" (prompt → clip through its text encoder, DiT and VAE).</summary>
    public string Task { get; init; } = TextToVideo;
    /// <summary>The canonical DiT config, including the self-attention backend of every block.</summary>
    public required WanConfig Config { get; init; }
    public IReadOnlyList<StageRecord> Stages { get; init; } = [];
    public required SamplerSettings Sampler { get; init; }
    /// <summary>The clip size the package generates unless told otherwise.</summary>
    public required VideoSettings Video { get; init; }
    public QuantizationSettings Quantization { get; init; } = new();
    public PackageComponents Components { get; init; } = new();
    public required Provenance Provenance { get; init; }
    /// <summary>Package-relative path (forward slashes) → lowercase hex SHA-256 of that file.</summary>
    public IReadOnlyDictionary<string, string> Files { get; init; } = new Dictionary<string, string>();

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };
}

/// <summary>One conversion stage that was applied (distill, sparsify, quantize, ...) and the settings it ran with.</summary>
public sealed record StageRecord(string Name, IReadOnlyDictionary<string, string> Settings);

/// <summary>
/// How the package is sampled: a flow-matching solver over Steps with the flow shift and CFG guidance (1 = no CFG), or
/// explicit noise levels (<see cref="Times"/>, Steps + 1 of them, the last the end level) for few-step samplers.
/// </summary>
public sealed record SamplerSettings
{
    public string Solver { get; init; } = "unipc";
    public int Steps { get; init; } = 50;
    public double Shift { get; init; } = 5.0;
    public double Guidance { get; init; } = 5.0;
    public IReadOnlyList<double>? Times { get; init; }

    /// <summary>Wan2.1 T2V's own recipe: UniPC, 50 steps, shift 5, CFG 5.</summary>
    public static SamplerSettings WanTeacher => new();

    /// <summary>The noise levels and timesteps sampled (refuses a solver, step count or time list that do not fit).</summary>
    [JsonIgnore] public FlowMatchSchedule Schedule => FlowSolvers.Schedule(Solver, Steps, Shift, Times);

    /// <summary>Model evaluations per step: two with classifier-free guidance, one without.</summary>
    [JsonIgnore] public int ForwardsPerStep => Guidance == 1.0 ? 1 : 2;
}

/// <summary>A clip size: frames (1 + 4n for Wan), height and width in pixels.</summary>
public sealed record VideoSettings(int Frames, int Height, int Width);

public sealed record QuantizationSettings
{
    public const string None = "none";

    /// <summary>"none", or the W8A8 scheme of the block Linears (int8-channel, int8-block128, fp8).</summary>
    public string Scheme { get; init; } = None;
    /// <summary>How activations are quantized (per token, dynamically, on every call), or null without quantization.</summary>
    public string? Activations { get; init; }
    /// <summary>Linear layers stored quantized.</summary>
    public int Layers { get; init; }
    /// <summary>Whether SmoothQuant factors were searched (layers that kept one carry a <c>.smooth</c> tensor).</summary>
    public bool Smoothing { get; init; }
}

/// <summary>Where the parts of the pipeline are, package-relative: the DiT weights file and three folders as diffusers lays them out.</summary>
public sealed record PackageComponents
{
    public string Transformer { get; init; } = "transformer/diffusion_pytorch_model.safetensors";
    public string TextEncoder { get; init; } = "text_encoder";
    public string Tokenizer { get; init; } = "tokenizer";
    public string Vae { get; init; } = "vae";
}

/// <summary>
/// Where the package came from: the teacher (its folder's name) and its files' hashes, the toolkit, and when the
/// conversion began (a resumed conversion keeps it, so it writes the same manifest).
/// </summary>
public sealed record Provenance(string Teacher, IReadOnlyDictionary<string, string> SourceFiles, string ToolkitVersion, DateTimeOffset Created);
