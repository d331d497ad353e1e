using System.Globalization;
using Turbo.Converter.Pipelines;
using Turbo.Converter.Validation;
using Turbo.Distiller.Data;
using Turbo.Quantizer;
using Turbo.Runtime;

namespace Turbo.Converter.Conversion;

/// <summary>
/// The training data of the distill and sparsify stages: the teacher's own samples (its sampler, its guidance) for
/// <see cref="Samples"/> prompts, drawn from <see cref="PromptList"/> (a user's file) or else the judge's training
/// prompts. A list shorter than the samples is cycled: each sample has its own noise, so repeats are new clips.
/// </summary>
public sealed record TeacherData(int Samples = 4096, IReadOnlyList<string>? PromptList = null, int Batch = 16, long Seed = 1)
{
    public const string FolderName = "teacher-samples";

    /// <summary>The settings that shape the samples, for a stage's settings.</summary>
    public IEnumerable<KeyValuePair<string, string>> Describe(IQualityJudge? judge) =>
    [
        new("samples", Samples.ToString(CultureInfo.InvariantCulture)),
        new("sample prompts", PromptList is { } list ? "sha256 " + StageMarker.Sha256(string.Join("\n", list)) : $"judge {judge?.Name ?? "(none)"}"),
        new("sample seed", Seed.ToString(CultureInfo.InvariantCulture)),
    ];

    /// <summary>The prompts sampled, one per sample (a TurboException saying what to pass when none are known).</summary>
    public IReadOnlyList<string> Prompts(IQualityJudge? judge)
    {
        if (Samples < 1 || Batch < 1) throw new TurboException($"teacher samples: --distill-samples {Samples} and --sample-batch {Batch} must be ≥ 1");
        var list = PromptList ?? judge?.TrainingPrompts(Samples)
            ?? throw new TurboException("no training prompts known for this teacher: pass --distill-prompts-file FILE (one prompt per line)");
        return Enumerable.Range(0, Samples).Select(i => list[i % list.Count]).ToArray();
    }

    /// <summary>Samples the teacher into <paramref name="folder"/>, a shard per batch, resuming the shards an interrupted run finished.</summary>
    public TeacherSamples Draw(WanTextToVideo teacher, IQualityJudge? judge, string folder, IStageProgress progress)
    {
        var prompts = Prompts(judge);
        progress.Begin("teacher samples", prompts.Count);
        int reported = 0;
        return TeacherSampleStage.Run(new PipelineTeacherSampler(teacher, teacher.Defaults), prompts,
            new TeacherSampleSettings { BatchSize = Batch, ShardSize = Batch, Seed = Seed }, folder,
            (done, _) =>
            {
                progress.Advance(done - reported);
                reported = done;
            });
    }
}
