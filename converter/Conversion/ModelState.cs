using System.Text.Json;
using Turbo.Converter.Checkpoints;
using Turbo.Converter.Files;
using Turbo.Converter.Pipelines;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Runtime.Packaging;

namespace Turbo.Converter.Conversion;

/// <summary>
/// The model as it passes from stage to stage (a stage folder's <c>state.json</c>): the teacher it came from (its
/// text encoder, tokenizer and VAE are used as they are), the DiT's weights and config, its sampler, its
/// quantization, and the stages applied so far. Everything a package's manifest says comes from here.
/// </summary>
public sealed record ModelState
{
    public const string FileName = "state.json";

    /// <summary>Full path of the teacher's folder (diffusers layout).</summary>
    public required string Teacher { get; init; }
    /// <summary>The teacher's files (relative path → SHA-256) when the conversion began: its provenance.</summary>
    public required IReadOnlyDictionary<string, string> TeacherFiles { get; init; }
    /// <summary>When the conversion began (a resumed one keeps it).</summary>
    public required DateTimeOffset Started { get; init; }
    public required TransformerWeights Transformer { get; init; }
    /// <summary>The DiT config, with the self-attention of every block.</summary>
    public required WanConfig Config { get; init; }
    public required SamplerSettings Sampler { get; init; }
    public required VideoSettings Video { get; init; }
    public QuantizationSettings Quantization { get; init; } = new();
    public IReadOnlyList<StageRecord> Stages { get; init; } = [];
    /// <summary>The folder of the teacher's own samples a distill stage drew (sparsify trains on them too), or null.</summary>
    public string? TeacherSamples { get; init; }
    /// <summary>The package written from this state (set by the package stage), which validation reads.</summary>
    public string? Package { get; init; }

    /// <summary>The teacher as it is: its own DiT weights, sampler and clip size; dense attention, no quantization.</summary>
    public static ModelState FromTeacher(string teacher)
    {
        string root = Path.GetFullPath(teacher);
        var defaults = WanTextToVideo.ReadIndex(root);
        using var checkpoint = AdaptedCheckpoints.OpenWan(Path.Combine(root, "transformer"), null);
        return new ModelState
        {
            Teacher = root,
            TeacherFiles = Conversion.TeacherFiles.Hash(root),
            Started = DateTimeOffset.UtcNow,
            Transformer = new TransformerWeights(Path.Combine(root, "transformer"), Canonical: false),
            Config = checkpoint.Config,
            Sampler = defaults.Sampler,
            Video = defaults.Video,
        };
    }

    /// <summary>
    /// The model in <paramref name="folder"/>: a stage's output (its state.json) or a teacher (a diffusers-layout
    /// folder); anything else is a TurboException naming the folder.
    /// </summary>
    public static ModelState Open(string folder)
    {
        if (File.Exists(Path.Combine(folder, FileName))) return Load(Path.Combine(folder, FileName));
        if (File.Exists(Path.Combine(folder, WanTextToVideo.IndexFile))) return FromTeacher(folder);
        throw new TurboException($"{folder}: neither a text-to-video model folder ({WanTextToVideo.IndexFile}) nor a conversion stage's output ({FileName})");
    }

    public static ModelState Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<ModelState>(File.ReadAllText(path), PackageManifest.Json)
                ?? throw new TurboException($"{path}: empty model state");
        }
        catch (JsonException e) { throw new TurboException($"{path}: unreadable model state ({e.Message.Split('\n')[0]})"); }
    }

    public string ToJson() => JsonSerializer.Serialize(this, PackageManifest.Json);

    public void Save(string folder) => AtomicFile.WriteAllText(Path.Combine(folder, FileName), ToJson());

    /// <summary>This state with one more stage applied.</summary>
    public ModelState With(StageRecord stage) => this with { Stages = [.. Stages, stage] };
}

/// <summary>
/// Where the DiT's weights are: a teacher's transformer folder in its own naming (read through the family adapter),
/// or a canonical single-file checkpoint a stage wrote (e.g. quantized), copied into a package as it is.
/// </summary>
/// <param name="Extra">a canonical file of tensors the model has beyond those of <paramref name="Path"/> (an untrained
/// SLA's zero proj_l), or null: what a stage that changes no weight adds, without a copy of the others</param>
public sealed record TransformerWeights(string Path, bool Canonical, string? Extra = null);
