using System.Globalization;
using Turbo.Converter.Pipelines;
using Turbo.Converter.Validation;
using Turbo.Distiller.Data;
using Turbo.Distiller.Merge;
using Turbo.Distiller.Sla;
using Turbo.Runtime;
using Turbo.Runtime.Attention;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using Turbo.Runtime.Packaging;
using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Converter.Conversion;

/// <summary>The sparsify stage's settings (turbo-convert run / sparsify options): SLA at top-k 0.1 (90% of key blocks skipped).</summary>
/// <param name="Data">the teacher's samples to train on when no distill stage drew them</param>
/// <param name="Tune">after distillation, what gets SLA: "student" (the student itself fine-tuned to its dense self at its
/// sampling levels: 72.0% adherence against the merge's 69.2% on the bundled teacher, docs/distillation.md) or "teacher"
/// (fine-tuned to the teacher, the change merged into the student: TurboDiffusion's way); null: the student after
/// distillation, else the teacher</param>
public sealed record SparsifySettings(
    TeacherData Data, double TopK = 0.1, int BlockQ = 128, int BlockK = 64, int Steps = 2000, int BatchSize = 16, double LearningRate = 1e-4,
    string? Tune = null)
{
    public const string TuneTeacher = "teacher", TuneStudent = "student";
    public static readonly string[] TuneChoices = [TuneTeacher, TuneStudent];

    /// <summary>Whether the student itself is fine-tuned (else the teacher, merged into a distilled student).</summary>
    public bool TunesStudent(bool distilled) => Tune is null ? distilled : Tune == TuneStudent;

    public AttentionConfig Attention => new() { Kind = AttentionKind.Sla, TopK = TopK, BlockQ = BlockQ, BlockK = BlockK };
}

/// <summary>
/// SLA sparse-linear attention (the distiller's <see cref="SlaFineTuner"/>): a copy of the teacher with SLA in every
/// self-attention is fine-tuned to the dense teacher's velocity on the teacher's own samples (the distill stage's, or
/// drawn here). After distillation the student itself is fine-tuned so, to its dense self at its own sampling levels
/// (<see cref="SparsifySettings.Tune"/> "student", the default after distillation), or the teacher is and the change is added to the
/// student, student + (SLA-tuned − teacher), as TurboDiffusion merges them ("teacher"); without distillation the
/// SLA-tuned teacher is the model. Resumes an interrupted fine-tune.
/// </summary>
public sealed class SparsifyStage(SparsifySettings settings, IQualityJudge? judge, Device device) : IConversionStage
{
    public const string ModelFile = "model/" + TransformerCheckpoint.FileName;

    /// <summary>What 0 steps write: SLA's fresh parameters (zero proj_l), an extra file beside the model's own weights.</summary>
    public const string FreshParametersFile = "model/sla-fresh.safetensors";

    public string Name => "sparsify";

    public IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>(settings.Data.Describe(judge))
    {
        ["top-k"] = Text(settings.TopK),
        ["blocks"] = $"{settings.BlockQ} × {settings.BlockK}",
        ["steps"] = Text(settings.Steps),
        ["batch"] = Text(settings.BatchSize),
        ["learning rate"] = Text(settings.LearningRate),
        ["tune"] = settings.Tune ?? "the student after distill, else the teacher",
    };

    /// <summary>Refuses settings that cannot run, before any work (the attention against the model's head size at run time).</summary>
    public void Check()
    {
        if (!(settings.TopK > 0 && settings.TopK <= 1)) throw new TurboException($"--top-k {settings.TopK}: expected a share in (0, 1]");
        if (settings.Steps < 0 || settings.BatchSize < 1 || !(settings.LearningRate > 0))
            throw new TurboException("--sla-steps must be ≥ 0 (0: a speed preview), --sla-batch ≥ 1 and --sla-lr positive");
        if (settings.Steps > 0) settings.Data.Prompts(judge);
        if (settings.Tune is not null && !SparsifySettings.TuneChoices.Contains(settings.Tune))
            throw new TurboException($"--sla-tune {settings.Tune}: expected {string.Join(" or ", SparsifySettings.TuneChoices)}");
    }

    public StageResult Run(StageContext context)
    {
        var input = context.Input;
        if (input.Quantization.Scheme != QuantizationSettings.None)
            throw new TurboException("sparsify: fine-tunes float weights, so it goes before quantize");
        if (input.Config.Attention.Kind != AttentionKind.Dense || input.Config.BlockAttention is not null)
            throw new TurboException("sparsify: the model's self-attention is already not dense");
        var attention = settings.Attention;
        attention.Validate(input.Config.HeadDim);
        bool distilled = input.Sampler.Solver == FlowSolvers.Rcm, tuneStudent = settings.TunesStudent(distilled);
        if (tuneStudent && !distilled) throw new TurboException("--sla-tune student: the model is not a distilled student (run distill first)");
        var sparseConfig = input.Config with { Attention = attention, BlockAttention = null };
        TransformerWeights weights;
        string training;
        if (settings.Steps == 0)
            (weights, training) = (WriteUntrained(input.Transformer, sparseConfig, context.Folder), "untrained (0 steps: a speed preview)");
        else
        {
            string output = Path.Combine(context.Folder, ModelFile);
            training = FineTuneAndWrite(context, input, attention, distilled, tuneStudent, output);
            weights = new TransformerWeights(output, Canonical: true);
        }

        var sparse = input.With(new StageRecord(Name, Settings)) with { Transformer = weights, Config = sparseConfig };
        return new StageResult(sparse,
        [
            new("SLA", $"every block, top-k {Text(settings.TopK)} of {settings.BlockQ} × {settings.BlockK} blocks; {training}"),
            new("model", settings.Steps == 0 ? (distilled ? "the distilled student" : "the teacher") + " with untrained SLA (proj_l zero)"
                : tuneStudent ? "the distilled student, SLA-tuned to its dense self"
                : distilled ? "the distilled student + (SLA-tuned − teacher)" : "the SLA-tuned teacher"),
        ]);
    }

    /// <summary>
    /// 0 steps: untrained SLA changes no weight, so whatever the choice (merge or tune the student) the model is its
    /// own weights — the student's after distill — plus SLA's zero-initialised proj_l. Only those are written, as the
    /// weights' extra file: a speed preview of a large model needs neither its memory nor a copy of its weights.
    /// </summary>
    static TransformerWeights WriteUntrained(TransformerWeights weights, WanConfig sparseConfig, string folder)
    {
        string path = Path.Combine(folder, FreshParametersFile);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var fresh = WanAttention.FreshBackendParameters(sparseConfig);
        try { SafetensorsWriter.Save(path, fresh); }
        finally { foreach (var t in fresh.Values) t.Dispose(); }
        return weights with { Extra = path };
    }

    /// <summary>The SLA fine-tune, then the model written (merged into the distilled student, unless it is the student).</summary>
    string FineTuneAndWrite(StageContext context, ModelState input, AttentionConfig attention, bool distilled, bool tuneStudent, string output)
    {
        using var teacher = WanTextToVideo.Load(input.Teacher, device, ScalarType.Float32);
        using var student = tuneStudent && input.Transformer.Canonical
            ? TransformerCheckpoint.Load(input.Transformer.Path, input.Config, device) : null;
        var dense = tuneStudent ? student ?? teacher.Transformer : teacher.Transformer;
        using var model = SlaFineTuner.SparseCopy(dense, attention);
        var (tuned, training) = FineTune(context, teacher, model, dense, tuneStudent ? input.Sampler.Schedule.ModelSigmas : null);
        try
        {
            if (distilled && !tuneStudent) WriteMerged(input.Transformer, teacher.Transformer, tuned, attention, output);
            else TransformerCheckpoint.Write(output, attention, tuned);
        }
        finally { foreach (var t in tuned.Values) t.Dispose(); }
        return training;
    }

    /// <summary>
    /// The fine-tune of <paramref name="model"/> to <paramref name="dense"/>'s velocity on the teacher's samples (the
    /// distill stage's, or drawn here): its EMA weights and a line on it.
    /// </summary>
    (Dictionary<string, Tensor> Weights, string Summary) FineTune(StageContext context, WanTextToVideo teacher, WanModel model, WanModel dense,
        IReadOnlyList<double>? noiseLevels)
    {
        var sla = new SlaSettings
        {
            Steps = settings.Steps, BatchSize = settings.BatchSize, LearningRate = settings.LearningRate, Shift = context.Input.Sampler.Shift,
            NoiseLevels = noiseLevels, CheckpointEvery = 100, Seed = settings.Data.Seed,
        };
        sla.Validate();
        using var samples = context.Input.TeacherSamples is { } drawn && Directory.Exists(drawn)
            ? TeacherSamples.Open(drawn, settings.Data.Seed)
            : settings.Data.Draw(teacher, judge, Path.Combine(context.Folder, TeacherData.FolderName), context.Progress);
        using var tuner = new SlaFineTuner(model, dense, sla, Path.Combine(context.Folder, "sla-training"));
        context.Progress.Begin("SLA fine-tune", sla.Steps);
        long reported = 0;
        var summary = tuner.Train(samples, p =>
        {
            context.Progress.Advance(p.Step - reported);
            reported = p.Step;
        });
        return (tuner.EmaWeights(), $"{tuner.Step} steps of {sla.BatchSize}, white-box loss {summary.Loss.ToString("G4", CultureInfo.InvariantCulture)}");
    }

    /// <summary>TurboDiffusion's merge: the distilled student plus what the SLA fine-tune changed in the teacher.</summary>
    static void WriteMerged(TransformerWeights studentWeights, WanModel teacher, IReadOnlyDictionary<string, Tensor> tuned, AttentionConfig attention, string output)
    {
        using var scope = NewDisposeScope();
        using var reader = TransformerReader.Open(studentWeights);
        var student = reader.Tensors.ToDictionary(t => t.Name, t => reader.Read(t.Name));
        var teacherWeights = teacher.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().cpu());
        var merged = StudentMerge.Merge(student, teacherWeights, tuned.ToDictionary(kv => kv.Key, kv => kv.Value.cpu()));
        TransformerCheckpoint.Write(output, attention, merged);
    }

    static string Text(double value) => value.ToString(CultureInfo.InvariantCulture);
}
