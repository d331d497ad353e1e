using System.Reflection;
using Turbo.Converter.Files;
using Turbo.Runtime;
using Turbo.Runtime.Attention;
using Turbo.Runtime.IO;
using Turbo.Runtime.Native;
using Turbo.Runtime.Packaging;

namespace Turbo.Converter.Conversion;

/// <summary>
/// Writes the model as a package (docs/package-format.md): the DiT weights under canonical names (a stage's
/// canonical checkpoint is copied as it is, a teacher's weights are renamed tensor by tensor), the teacher's text
/// encoder, tokenizer and VAE folders as they are, and turbo.json with the sampler, per-block attention,
/// quantization, stages and provenance. The files go into <c>partial/</c> in the stage folder and the folder is
/// renamed to the destination only when every file is written and hashed: a stopped write leaves no package.
/// </summary>
/// <param name="attention">"sage": SageAttention-style INT8 attention in every block (dense → Sage, SLA → SageSLA: what the CUDA
/// kernels run; the command's default), or "keep" the model's attention</param>
public sealed class PackageStage(string destination, string attention) : IConversionStage
{
    public const string KeepAttention = "keep", SageAttention = "sage";
    public static readonly string[] AttentionChoices = [KeepAttention, SageAttention];

    readonly string _destination = Path.GetFullPath(destination);

    public string Name => "package";

    public IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string> { ["attention"] = attention };

    public StageResult Run(StageContext context)
    {
        var input = context.Input;
        var config = WithAttention(input.Config, attention);
        IReadOnlyList<StageRecord> stages = [.. input.Stages, new StageRecord(Name, Settings)];
        using (var writer = new PackageWriter(_destination, Path.Combine(context.Folder, "partial")))
        {
            var manifest = new PackageManifest
            {
                Family = "wan2.1",
                Config = config,
                Stages = stages,
                Sampler = input.Sampler,
                Video = input.Video,
                Quantization = input.Quantization,
                Provenance = new Provenance(Path.GetFileName(input.Teacher), input.TeacherFiles, ToolkitVersion, input.Started),
            };
            var parts = manifest.Components;
            long total = TransformerBytes(input.Transformer) + new[] { "text_encoder", "tokenizer", "vae" }
                .Sum(f => Directory.EnumerateFiles(Path.Combine(input.Teacher, f), "*", SearchOption.AllDirectories).Sum(p => new FileInfo(p).Length));
            context.Progress.Begin($"package {Path.GetFileName(_destination)}", total);
            WriteTransformer(input.Transformer, writer.PathFor(parts.Transformer), context.Progress.Advance);
            foreach (var (folder, relative) in new[] { ("text_encoder", parts.TextEncoder), ("tokenizer", parts.Tokenizer), ("vae", parts.Vae) })
            {
                string source = Path.Combine(input.Teacher, folder);
                writer.CopyFolder(source, relative);
                context.Progress.Advance(Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories).Sum(p => new FileInfo(p).Length));
            }
            writer.Commit(manifest);
        }
        var written = PackageFolder.Open(_destination);
        long bytes = Directory.EnumerateFiles(_destination, "*", SearchOption.AllDirectories).Sum(p => new FileInfo(p).Length);
        return new StageResult(input with { Config = config, Stages = stages, Package = _destination },
        [
            new("package", $"{_destination} ({Inspection.ByteSize.Format(bytes)}, {written.Files.Count} files)"),
            new("sampler", $"{written.Sampler.Solver} × {written.Sampler.Steps} steps, guidance {written.Sampler.Guidance}"),
            new("attention", string.Join(", ", Enumerable.Range(0, config.NumLayers).Select(config.AttentionOf).GroupBy(a => a.Kind).Select(g => $"{g.Key} × {g.Count()}"))),
            new("quantization", written.Quantization.Scheme),
            new(ManifestHashKey, PackageFolder.Sha256(Path.Combine(_destination, PackageManifest.FileName))),
        ]);
    }

    const string ManifestHashKey = "turbo.json sha256";

    /// <summary>The package is still the one this stage wrote (a resumed run does not write it again).</summary>
    public bool OutputIntact(StageContext context, StageOutcome result) =>
        File.Exists(Path.Combine(_destination, PackageManifest.FileName))
        && result.Summary.FirstOrDefault(s => s.Key == ManifestHashKey).Value == PackageFolder.Sha256(Path.Combine(_destination, PackageManifest.FileName));

    /// <summary>
    /// Refuses, before any work, an attention choice that the SLA blocks of the sparsify stage (null: none) cannot take:
    /// SageSLA's kernels are built for blocks of 64 and 128 tokens.
    /// </summary>
    public static void Check(string choice, SparsifySettings? sparsify)
    {
        if (!AttentionChoices.Contains(choice)) throw new TurboException($"--attention {choice}: expected {string.Join(" or ", AttentionChoices)}");
        if (choice == SageAttention && sparsify is { } s && !AttentionConfig.AreQuantizedBlocks(s.BlockQ, s.BlockK))
            throw new TurboException($"--attention sage runs SLA as SageSLA, whose kernels take blocks of 64 or 128 tokens: found --block-q {s.BlockQ} " +
                $"--block-k {s.BlockK} (choose such blocks, or --attention keep to package SLA as it is)");
    }

    /// <summary>The config with every block's attention as <paramref name="choice"/> asks.</summary>
    public static Runtime.Models.WanConfig WithAttention(Runtime.Models.WanConfig config, string choice)
    {
        if (choice == KeepAttention) return config;
        if (choice != SageAttention) throw new TurboException($"--attention {choice}: expected {string.Join(" or ", AttentionChoices)}");
        var blocks = Enumerable.Range(0, config.NumLayers).Select(config.AttentionOf)
            .Select(a => a with { Kind = a.IsSparseLinear ? AttentionKind.SageSla : AttentionKind.Sage }).ToList();
        foreach (var block in blocks) block.Validate(config.HeadDim);
        return blocks.Distinct().Count() <= 1 && blocks.Count > 0
            ? config with { Attention = blocks[0], BlockAttention = null }
            : config with { BlockAttention = blocks };
    }

    static long TransformerBytes(TransformerWeights weights)
    {
        using var reader = TransformerReader.Open(weights);
        return reader.Tensors.Sum(t => t.ByteCount);
    }

    /// <summary>
    /// A canonical checkpoint goes in as it is (hard-linked where the package is on the same volume, else copied); a
    /// teacher's, or weights with an extra file, are streamed under canonical names.
    /// </summary>
    static void WriteTransformer(TransformerWeights weights, string path, Action<double> advance)
    {
        if (weights.Canonical && weights.Extra is null)
        {
            FileLink.LinkOrCopy(weights.Path, path);
            advance(new FileInfo(path).Length);
            return;
        }
        using var reader = TransformerReader.Open(weights);
        var layout = reader.Tensors.Select(t => (t.Name, t.DType, t.Shape)).ToList();
        using var output = new SafetensorsWriter(path, layout, new Dictionary<string, string> { ["format"] = "pt" });
        using var pause = CollectionPause.Begin();
        foreach (var tensor in reader.Tensors)
        {
            using (var values = reader.Read(tensor.Name)) output.Write(tensor.Name, values);
            pause.Checkpoint();
            advance(tensor.ByteCount);
        }
        output.Commit();
    }

    static string ToolkitVersion =>
        typeof(PackageStage).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
}
