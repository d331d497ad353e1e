using System.Globalization;
using System.Text.RegularExpressions;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Converter.Families.Wan;

/// <summary>
/// A validated Wan2.1 T2V checkpoint in any naming, seen through canonical (original) names. By the time one
/// exists, the config is resolved and every tensor's name, shape and dtype has been checked against it.
/// </summary>
public sealed partial class WanCheckpoint : IAdaptedCheckpoint
{
    readonly Checkpoint _checkpoint;
    readonly Dictionary<string, string> _foreignByCanonical;

    WanCheckpoint(Checkpoint checkpoint, WanNaming naming, WanConfigSource config, IReadOnlyList<CanonicalTensor> tensors)
    {
        _checkpoint = checkpoint;
        NamingKind = naming;
        ConfigSource = config;
        Tensors = tensors;
        _foreignByCanonical = tensors.ToDictionary(t => t.Name, t => t.Source.Name, StringComparer.Ordinal);
    }

    public WanNaming NamingKind { get; }
    public WanConfigSource ConfigSource { get; }
    public WanConfig Config => ConfigSource.Config;

    public string Family => "wan2.1";
    public string Naming => NamingKind.Id();
    public IReadOnlyList<string> Files => _checkpoint.Files;
    public string ConfigOrigin => ConfigSource.Origin;
    public IReadOnlyList<CanonicalTensor> Tensors { get; }

    public IReadOnlyDictionary<string, object> ConfigFields => new Dictionary<string, object>
    {
        ["dim"] = Config.Dim,
        ["ffn_dim"] = Config.FfnDim,
        ["num_heads"] = Config.NumHeads,
        ["head_dim"] = Config.HeadDim,
        ["num_layers"] = Config.NumLayers,
        ["in_dim"] = Config.InDim,
        ["out_dim"] = Config.OutDim,
        ["text_dim"] = Config.TextDim,
        ["text_len"] = Config.TextLen,
        ["freq_dim"] = Config.FreqDim,
        ["eps"] = Config.Eps,
        ["patch_size"] = Config.PatchSize,
        ["qk_norm"] = Config.QkNorm,
        ["cross_attn_norm"] = Config.CrossAttnNorm,
    };

    public IReadOnlyList<string> ConversionPlan => WanConversionPlan.Describe(this);

    /// <summary>Reads a tensor by canonical name (CPU, the file's dtype): what WanModel.LoadWeights takes.</summary>
    public Tensor Read(string canonicalName) =>
        _foreignByCanonical.TryGetValue(canonicalName, out var foreign)
            ? _checkpoint.Read(foreign)
            : throw new TurboException($"{_checkpoint.Root}: no tensor '{canonicalName}' in this Wan2.1 checkpoint");

    public bool IsBlockLinearWeight(string canonicalName) => WanLayout.IsBlockLinearWeight(canonicalName);

    public void Dispose() => _checkpoint.Dispose();

    /// <summary>Resolves the config, checks every tensor against it and takes ownership of the checkpoint.</summary>
    public static WanCheckpoint Adapt(Checkpoint checkpoint, WanNaming naming, string? configPath)
    {
        // Checkpoint does not say which shard holds a tensor, so messages name the file, or the folder of a sharded set.
        string source = checkpoint.Files.Count == 1 ? checkpoint.Files[0] : checkpoint.Root;
        WanUnsupportedVariants.Reject(checkpoint.Tensors, source);
        var byName = checkpoint.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        TensorInfo? Find(string canonical) => byName.GetValueOrDefault(WanNames.ToForeign(canonical, naming));

        var config = ResolveConfig(checkpoint, configPath, Find, source);
        WanConfigCheck.Validate(config);
        var checkedPairs = WanTensorCheck.Check(WanLayout.For(config.Config), naming, checkpoint.Tensors, source,
            _ => source, config.Origin);
        var tensors = checkedPairs.Select(p => new CanonicalTensor(p.Expected.Name, p.Found)).ToArray();
        return new WanCheckpoint(checkpoint, naming, config, tensors);
    }

    static WanConfigSource ResolveConfig(Checkpoint checkpoint, string? configPath, Func<string, TensorInfo?> find, string source)
    {
        // The original config format has no text_dim; the release takes it from the code default, we from the weights.
        var textEmbedding = find("text_embedding.0.weight");
        int textDim = textEmbedding is { Shape.Length: 2 } ? (int)textEmbedding.Shape[1] : new WanConfig().TextDim;
        if (configPath is not null)
        {
            if (!File.Exists(configPath)) throw new TurboException($"{configPath}: config file not found (--config)");
            return WanConfigJson.Read(configPath, textDim, "--config");
        }
        string beside = Path.Combine(checkpoint.Root, "config.json");
        if (File.Exists(beside)) return WanConfigJson.Read(beside, textDim, "config.json beside the weights:");
        var indices = checkpoint.Tensors.Select(t => BlockIndex().Match(t.Name))
            .Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        return new(WanConfigInference.Infer(find, indices, source),
            $"config inferred from tensor shapes (no config.json beside {source}; head_dim {WanConfigInference.ConventionalHeadDim} assumed)");
    }

    [GeneratedRegex(@"(?:^|\.)blocks\.([0-9]{1,6})\.")]
    private static partial Regex BlockIndex();
}
