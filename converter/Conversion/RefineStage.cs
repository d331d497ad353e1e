using System.Globalization;
using Turbo.Converter.Pipelines;
using Turbo.Distiller.Data;
using Turbo.Distiller.Rcm;
using Turbo.Runtime;
using Turbo.Runtime.Attention;
using Turbo.Runtime.Packaging;
using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Converter.Conversion;

/// <summary>
/// The refine stage's settings (turbo-convert run / refine options): rCM continued from the SLA-tuned student at rCM's
/// own small rates, no tangent warm-up. On the bundled teacher this took the 4-step SLA student from 71.1% adherence and
/// 1.22× the teacher's Fréchet distance to 74.1% and 1.14× in 1,000 steps (docs/distillation.md).
/// </summary>
/// <param name="Steps">optimizer steps (student and critic); 0 leaves the sparse student as it is</param>
public sealed record RefineSettings(int Steps = 1000, double LearningRate = 2e-6, double CriticLearningRate = 4e-7);

/// <summary>
/// rCM continued on the sparse student (the distiller's <see cref="RcmDistiller"/> started from the sparsify stage's
/// model, its SLA attention trained as it is): the SLA fine-tune trains the sparse student to its dense velocity
/// point by point, and sCM + DMD against the dense teacher then pull its samples' distribution back to the
/// teacher's. Batch, tangent, guidance, DMD weight and seed are the distill stage's; the data are the teacher samples
/// that stage drew. Resumes an interrupted run.
/// </summary>
public sealed class RefineStage(RefineSettings settings, DistillSettings rcm, Device device) : IConversionStage
{
    public const string StudentFile = "student/" + TransformerCheckpoint.FileName;

    public string Name => "refine";

    public IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["steps"] = Text(settings.Steps),
        ["learning rate"] = Text(settings.LearningRate),
        ["critic learning rate"] = Text(settings.CriticLearningRate),
        ["batch"] = Text(rcm.BatchSize),
        ["DMD weight"] = Text(rcm.DmdWeight),
        ["tangent"] = rcm.Tangent,
        ["guidance"] = rcm.Guidance is { } g ? Text(g) : "the teacher's",
        ["seed"] = Text(rcm.Data.Seed),
    };

    /// <summary>Refuses settings that cannot run, before any work.</summary>
    public void Check()
    {
        _ = rcm.TangentMethod;
        if (settings.Steps < 0 || !(settings.LearningRate > 0) || !(settings.CriticLearningRate > 0))
            throw new TurboException("--refine-steps must be ≥ 0 (0: keep the sparse student as it is), --refine-lr and --refine-critic-lr positive");
    }

    public StageResult Run(StageContext context)
    {
        var input = context.Input;
        Check();
        if (input.Quantization.Scheme != QuantizationSettings.None)
            throw new TurboException("refine: trains float weights, so it goes before quantize");
        if (input.Sampler.Solver != FlowSolvers.Rcm)
            throw new TurboException("refine: continues the rCM distillation of a student (run distill first)");
        if (input.Config.Attention.Kind is not (AttentionKind.Dense or AttentionKind.Sla) || input.Config.BlockAttention is not null)
            throw new TurboException($"refine: trains dense or SLA self-attention, not {input.Config.Attention.Kind} (refine goes before package)");
        var output = input.With(new StageRecord(Name, Settings));
        if (settings.Steps == 0) return new StageResult(output, [new("refine", "0 steps: the sparse student as it is")]);
        // A speed preview: distill drew no samples (0 steps), or sparsify added SLA's untrained parameters (0 steps).
        if (input.TeacherSamples is not { } samplesFolder || input.Transformer.Extra is not null)
            return new StageResult(output, [new("refine", "a speed preview (untrained student): nothing to continue")]);

        using var teacher = WanTextToVideo.Load(input.Teacher, device, ScalarType.Float32);
        using var samples = TeacherSamples.Open(samplesFolder, rcm.Data.Seed);
        var rcmSettings = rcm.Rcm(teacher, samples) with
        {
            Steps = settings.Steps, StudentLearningRate = settings.LearningRate, CriticLearningRate = settings.CriticLearningRate, TangentWarmup = 0,
        };
        using var student = TransformerCheckpoint.Load(input.Transformer.Path, input.Config, device);
        using var distiller = new RcmDistiller(student, teacher.Transformer, samples.EmptyContext, rcmSettings, Path.Combine(context.Folder, "rcm-training"));
        string studentPath = Path.Combine(context.Folder, StudentFile);
        string training = StageRcm.TrainAndWrite(distiller, rcmSettings, samples, context, "rCM, continued", studentPath, input.Config.Attention);
        return new StageResult(output with { Transformer = new TransformerWeights(studentPath, Canonical: true) },
            [new("rCM, continued from the sparse student", training)]);
    }

    static string Text(double value) => value.ToString(CultureInfo.InvariantCulture);
}
