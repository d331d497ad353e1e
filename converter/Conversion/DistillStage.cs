using System.Globalization;
using Turbo.Converter.Pipelines;
using Turbo.Converter.Validation;
using Turbo.Distiller.Data;
using Turbo.Distiller.Rcm;
using Turbo.Runtime;
using Turbo.Runtime.Attention;
using Turbo.Runtime.Packaging;
using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Converter.Conversion;

/// <summary>
/// The distill stage's settings (turbo-convert run / distill options). The defaults are the recipe measured on the
/// bundled teacher (docs/distillation.md: its 4-step student matches the teacher's adherence), sized for a GPU.
/// </summary>
/// <param name="StudentSteps">sampling steps of the student (1–4, rCM's TrigFlow times)</param>
/// <param name="Steps">optimizer steps in all (student and critic); 0 keeps the teacher's weights with the student's
/// sampler: a speed preview of the package before any training (its quality is the undistilled teacher's at few steps)</param>
/// <param name="Guidance">the teacher's CFG scale distilled in; null: the teacher's own</param>
public sealed record DistillSettings(
    TeacherData Data, int StudentSteps = 4, int Steps = 3000, int BatchSize = 16, double LearningRate = 2e-5,
    double CriticLearningRate = 4e-6, int TangentWarmup = 500, double DmdWeight = 1.0, string Tangent = "exact", double? Guidance = null)
{
    public static readonly string[] Tangents = ["exact", "fd"];

    public TangentMethod TangentMethod => Tangent switch
    {
        "exact" => TangentMethod.DoubleBackward,
        "fd" => TangentMethod.FiniteDifference,
        _ => throw new TurboException($"--tangent {Tangent}: expected {string.Join(" or ", Tangents)}"),
    };

    /// <summary>
    /// The distiller's settings for these choices against <paramref name="teacher"/>, trained on
    /// <paramref name="samples"/> (whose clip length sets the sCM time distribution).
    /// </summary>
    public RcmSettings Rcm(WanTextToVideo teacher, TeacherSamples samples)
    {
        var (latent, context) = samples.Sample(0);
        int latentFrames = (int)latent.shape[1];
        latent.Dispose();
        context.Dispose();
        var rcm = new RcmSettings
        {
            Steps = Steps, BatchSize = BatchSize, StudentLearningRate = LearningRate, CriticLearningRate = CriticLearningRate,
            TangentWarmup = TangentWarmup, DmdWeight = DmdWeight, TeacherGuidance = Guidance ?? teacher.Defaults.Guidance,
            Tangent = TangentMethod, ConsistencyLogMean = RcmSettings.VideoLogMean(latentFrames), CriticShift = teacher.Defaults.Shift,
            CheckpointEvery = 100, Seed = Data.Seed,
        };
        rcm.Validate();
        return rcm;
    }
}

/// <summary>
/// rCM step distillation (the distiller's <see cref="RcmDistiller"/>): the teacher's own samples as data, a copy of
/// the teacher trained into a <see cref="DistillSettings.StudentSteps"/>-step student with the teacher's guidance
/// distilled in, its EMA weights written as a canonical checkpoint, and the rCM sampler (guidance 1) as the model's
/// sampler from here on. Both the samples and the training resume from what an interrupted run left in the folder.
/// </summary>
public sealed class DistillStage(DistillSettings settings, IQualityJudge? judge, Device device) : IConversionStage
{
    public const string StudentFile = "student/" + TransformerCheckpoint.FileName;

    public string Name => "distill";

    public IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>(settings.Data.Describe(judge))
    {
        ["student steps"] = Text(settings.StudentSteps),
        ["steps"] = Text(settings.Steps),
        ["batch"] = Text(settings.BatchSize),
        ["learning rate"] = Text(settings.LearningRate),
        ["critic learning rate"] = Text(settings.CriticLearningRate),
        ["tangent warm-up"] = Text(settings.TangentWarmup),
        ["DMD weight"] = Text(settings.DmdWeight),
        ["tangent"] = settings.Tangent,
        ["guidance"] = settings.Guidance is { } g ? Text(g) : "the teacher's",
    };

    /// <summary>Refuses settings that cannot run, before any work.</summary>
    public void Check()
    {
        RcmSchedule.TrigFlowTimes(settings.StudentSteps);
        _ = settings.TangentMethod;
        if (settings.Steps < 0) throw new TurboException($"--distill-steps {settings.Steps}: expected 0 (a speed preview) or more");
        if (settings.Steps > 0) settings.Data.Prompts(judge);
    }

    public StageResult Run(StageContext context)
    {
        var input = context.Input;
        if (input.Stages.Count > 0)
            throw new TurboException($"distill: distils the teacher itself, so it comes first (this model has been through {string.Join(", ", input.Stages.Select(s => s.Name))})");
        Check();
        var studentSampler = input.Sampler with { Solver = FlowSolvers.Rcm, Steps = settings.StudentSteps, Guidance = 1, Times = null };
        if (settings.Steps == 0)
            return new StageResult(input.With(new StageRecord(Name, Settings)) with { Sampler = studentSampler },
                [new("student", $"the teacher's weights, untrained (0 steps: a speed preview); rCM sampler × {settings.StudentSteps} steps, no CFG")]);
        using var teacher = WanTextToVideo.Load(input.Teacher, device, ScalarType.Float32);
        string samplesFolder = Path.Combine(context.Folder, TeacherData.FolderName);
        using var samples = settings.Data.Draw(teacher, judge, samplesFolder, context.Progress);

        var rcm = settings.Rcm(teacher, samples);
        using var student = RcmDistiller.CopyOf(teacher.Transformer);
        using var distiller = new RcmDistiller(student, teacher.Transformer, samples.EmptyContext, rcm, Path.Combine(context.Folder, "rcm-training"));
        string studentPath = Path.Combine(context.Folder, StudentFile);
        string training = StageRcm.TrainAndWrite(distiller, rcm, samples, context, "rCM", studentPath, AttentionConfig.Dense);

        var distilled = input.With(new StageRecord(Name, Settings)) with
        {
            Transformer = new TransformerWeights(studentPath, Canonical: true),
            Sampler = studentSampler,
            TeacherSamples = samplesFolder,
        };
        return new StageResult(distilled,
        [
            new("teacher samples", $"{samples.Count} ({input.Sampler.Solver} × {input.Sampler.Steps}, CFG {Text(rcm.TeacherGuidance)})"),
            new("rCM", training),
            new("student", $"rCM sampler × {settings.StudentSteps} steps, no CFG"),
        ]);
    }

    static string Text(double value) => value.ToString(CultureInfo.InvariantCulture);
}
