using System.CommandLine;
using Turbo.Converter.Conversion;

namespace Turbo.Converter.Commands;

/// <summary>Where the distill and sparsify stages get the teacher's samples: spelled the same by `run`, `distill` and `sparsify`.</summary>
public sealed class TeacherDataOptions
{
    static readonly TeacherData Defaults = new();

    public Option<int> Samples { get; } = new("--distill-samples") { Description = "teacher samples to train on (prompts sampled by the teacher with its own sampler and guidance)", DefaultValueFactory = _ => Defaults.Samples };
    public Option<string?> PromptsFile { get; } = new("--distill-prompts-file") { Description = "training prompts, one per line, cycled to --distill-samples (default: the judge's training prompts, e.g. the Shapes training split)" };
    public Option<int> Batch { get; } = new("--sample-batch") { Description = "prompts the teacher samples at once (one resumable shard each)", DefaultValueFactory = _ => Defaults.Batch };
    public Option<long> Seed { get; } = new("--distill-seed") { Description = "seed of the teacher's sample noise and of the training", DefaultValueFactory = _ => Defaults.Seed };

    public IEnumerable<Option> All => [Samples, PromptsFile, Batch, Seed];

    public TeacherData Read(ParseResult parse) => new(parse.GetValue(Samples),
        parse.GetValue(PromptsFile) is { } file ? PromptChoice.ReadFile(file) : null, parse.GetValue(Batch), parse.GetValue(Seed));
}

/// <summary>The tuning options of the distill stage (rCM), spelled the same by `run` and `distill`.</summary>
public sealed class DistillStageOptions
{
    static readonly DistillSettings Defaults = new(new TeacherData());

    public Option<int> StudentSteps { get; } = new("--student-steps") { Description = "sampling steps of the distilled student (1–4)", DefaultValueFactory = _ => Defaults.StudentSteps };
    public Option<int> Steps { get; } = new("--distill-steps") { Description = "rCM optimizer steps (student and critic)", DefaultValueFactory = _ => Defaults.Steps };
    public Option<int> Batch { get; } = new("--distill-batch") { Description = "teacher samples per rCM step", DefaultValueFactory = _ => Defaults.BatchSize };
    public Option<double> LearningRate { get; } = new("--distill-lr") { Description = "student learning rate", DefaultValueFactory = _ => Defaults.LearningRate };
    public Option<double> CriticLearningRate { get; } = new("--critic-lr") { Description = "critic (fake score) learning rate", DefaultValueFactory = _ => Defaults.CriticLearningRate };
    public Option<int> TangentWarmup { get; } = new("--tangent-warmup") { Description = "steps over which the sCM tangent is warmed up (DMD and the critic start after it)", DefaultValueFactory = _ => Defaults.TangentWarmup };
    public Option<double> DmdWeight { get; } = new("--dmd-weight") { Description = "weight of the DMD regulariser (0: pure sCM, no critic)", DefaultValueFactory = _ => Defaults.DmdWeight };
    public Option<string> Tangent { get; } = new("--tangent") { Description = "sCM tangent: exact (double backward) or fd (finite differences: less memory, for large models)", DefaultValueFactory = _ => Defaults.Tangent };
    public Option<double?> Guidance { get; } = new("--distill-guidance") { Description = "the teacher's CFG scale distilled into the student (default: the teacher's own)" };

    public DistillStageOptions() => Tangent.AcceptOnlyFromAmong(DistillSettings.Tangents);

    public IEnumerable<Option> All => [StudentSteps, Steps, Batch, LearningRate, CriticLearningRate, TangentWarmup, DmdWeight, Tangent, Guidance];

    public DistillSettings Read(ParseResult parse, TeacherData data) => new(data, parse.GetValue(StudentSteps), parse.GetValue(Steps),
        parse.GetValue(Batch), parse.GetValue(LearningRate), parse.GetValue(CriticLearningRate), parse.GetValue(TangentWarmup),
        parse.GetValue(DmdWeight), parse.GetRequiredValue(Tangent), parse.GetValue(Guidance));
}

/// <summary>The tuning options of the sparsify stage (SLA), spelled the same by `run` and `sparsify`.</summary>
public sealed class SparsifyStageOptions
{
    static readonly SparsifySettings Defaults = new(new TeacherData());

    public Option<double> TopK { get; } = new("--top-k") { Description = "share of key blocks each query block attends to exactly (the rest through the linear branch)", DefaultValueFactory = _ => Defaults.TopK };
    public Option<int> BlockQ { get; } = new("--block-q") { Description = "SLA query block (tokens)", DefaultValueFactory = _ => Defaults.BlockQ };
    public Option<int> BlockK { get; } = new("--block-k") { Description = "SLA key block (tokens)", DefaultValueFactory = _ => Defaults.BlockK };
    public Option<int> Steps { get; } = new("--sla-steps") { Description = "SLA fine-tune optimizer steps", DefaultValueFactory = _ => Defaults.Steps };
    public Option<int> Batch { get; } = new("--sla-batch") { Description = "teacher samples per SLA step", DefaultValueFactory = _ => Defaults.BatchSize };
    public Option<double> LearningRate { get; } = new("--sla-lr") { Description = "SLA fine-tune learning rate", DefaultValueFactory = _ => Defaults.LearningRate };
    public Option<string?> Tune { get; } = new("--sla-tune")
    {
        Description = "after distill: student (fine-tune the student itself to its dense self, at its sampling levels; the default) or teacher (fine-tune the teacher with SLA and merge the change into the student, TurboDiffusion's way)",
    };

    public SparsifyStageOptions() => Tune.AcceptOnlyFromAmong(SparsifySettings.TuneChoices);

    public IEnumerable<Option> All => [TopK, BlockQ, BlockK, Steps, Batch, LearningRate, Tune];

    public SparsifySettings Read(ParseResult parse, TeacherData data) => new(data, parse.GetValue(TopK), parse.GetValue(BlockQ),
        parse.GetValue(BlockK), parse.GetValue(Steps), parse.GetValue(Batch), parse.GetValue(LearningRate), parse.GetValue(Tune));
}

/// <summary>The tuning options of the refine stage (rCM continued on the sparse student), spelled the same by `run` and `refine`.</summary>
public sealed class RefineStageOptions
{
    static readonly RefineSettings Defaults = new();

    public Option<int> Steps { get; } = new("--refine-steps") { Description = "rCM optimizer steps continued on the sparse student (0: keep it as sparsify left it)", DefaultValueFactory = _ => Defaults.Steps };
    public Option<double> LearningRate { get; } = new("--refine-lr") { Description = "student learning rate of the continued rCM", DefaultValueFactory = _ => Defaults.LearningRate };
    public Option<double> CriticLearningRate { get; } = new("--refine-critic-lr") { Description = "critic learning rate of the continued rCM", DefaultValueFactory = _ => Defaults.CriticLearningRate };

    public IEnumerable<Option> All => [Steps, LearningRate, CriticLearningRate];

    public RefineSettings Read(ParseResult parse) => new(parse.GetValue(Steps), parse.GetValue(LearningRate), parse.GetValue(CriticLearningRate));
}
