using Turbo.Converter.Validation;
using static TorchSharp.torch;

namespace Turbo.Converter.Conversion;

/// <summary>What `turbo-convert run` was asked for: which stages, and each one's settings.</summary>
public sealed record RecipeChoices(string Package, DistillSettings Distill, SparsifySettings Sparsify, RefineSettings Refine,
    QuantizeSettings Quantize, string Attention, ValidationOptions Validate, IQualityJudge? Judge, Device Device)
{
    public bool SkipDistill { get; init; }
    public bool SkipSparsify { get; init; }
    /// <summary>No rCM continued on the sparse student (the stage runs only after both distill and sparsify).</summary>
    public bool SkipRefine { get; init; }
    public bool SkipQuantize { get; init; }
    public bool SkipValidate { get; init; }
}

/// <summary>
/// The TurboDiffusion recipe as stages, in order: distill (rCM: the few-step student, the teacher's CFG distilled
/// in), sparsify (SLA fine-tuning of the student), refine (rCM continued on the sparse student: what brought it back to
/// the teacher's quality, docs/distillation.md), quantize (W8A8, calibrated on whatever model and sampler they leave),
/// package, validate.
/// </summary>
public static class ConversionRecipe
{
    public static IReadOnlyList<IConversionStage> Stages(RecipeChoices choices)
    {
        var stages = new List<IConversionStage>();
        if (!choices.SkipDistill) stages.Add(new DistillStage(choices.Distill, choices.Judge, choices.Device));
        if (!choices.SkipSparsify) stages.Add(new SparsifyStage(choices.Sparsify, choices.Judge, choices.Device));
        if (Refines(choices)) stages.Add(new RefineStage(choices.Refine, choices.Distill, choices.Device));
        if (!choices.SkipQuantize) stages.Add(new QuantizeStage(choices.Quantize, choices.Judge, choices.Device, choices.Attention));
        stages.Add(new PackageStage(choices.Package, choices.Attention));
        if (!choices.SkipValidate) stages.Add(new ValidateStage(choices.Validate, choices.Device));
        return stages;
    }

    /// <summary>Whether the recipe continues rCM on a sparse student: only a distilled student made sparse has one.</summary>
    public static bool Refines(RecipeChoices choices) => !choices.SkipDistill && !choices.SkipSparsify && !choices.SkipRefine;
}
