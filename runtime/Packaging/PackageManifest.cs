using System.Text.Json;
using System.Text.Json.Serialization;
using Turbo.Runtime.Models;

namespace Turbo.Runtime.Packaging;

/// <summary>
/// <c>turbo.json</c>, the manifest of a package folder (docs/package-format.md): what the model is, what was done to
/// it, how to sample it, and a SHA-256 of every other file in the folder.
/// </summary>
public sealed record PackageManifest
{
    public const string FileName = "turbo.json";
    public const string Format = "turbo-package";
    /// <summary>Readers accept packages of this major version; writers write it.</summary>
    public const int CurrentVersion = 1;

    [JsonPropertyName("format")] public string FormatName { get; init; } = Format;
    public int FormatVersion { get; init; } = CurrentVersion;
    public required string Family { get; init; }
    /// <summary>The canonical model config, including the self-attention backend every block uses.</summary>
    public required WanConfig Config { get; init; }
    public IReadOnlyList<StageRecord> Stages { get; init; } = [];
    public required SamplerSettings Sampler { get; init; }
    public QuantizationSettings Quantization { get; init; } = new();
    public required Provenance Provenance { get; init; }
    /// <summary>Package-relative path (forward slashes) → lowercase hex SHA-256 of that file.</summary>
    public IReadOnlyDictionary<string, string> Files { get; init; } = new Dictionary<string, string>();
    /// <summary>The DiT weights, package-relative.</summary>
    public string Weights { get; init; } = "transformer/diffusion_pytorch_model.safetensors";

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
/// explicit step times (the rCM few-step sampler's TrigFlow times).
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
}

public sealed record QuantizationSettings
{
    /// <summary>"none", or the W8A8 scheme of the block Linears (e.g. "int8-channel").</summary>
    public string Scheme { get; init; } = "none";
}

/// <summary>Where the package came from: the source checkpoint's files and their hashes, the toolkit, the date.</summary>
public sealed record Provenance(IReadOnlyDictionary<string, string> SourceFiles, string ToolkitVersion, DateTimeOffset Created);
