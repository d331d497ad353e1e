using Turbo.Converter.Validation;
using static TorchSharp.torch;

namespace Turbo.Converter.Conversion;

/// <summary>What `turbo-convert run` was asked for: which stages, and each one's settings.</summary>
public sealed record RecipeChoices(string Package, QuantizeSettings Quantize, string Attention, ValidationOptions Validate,
    bool SkipQuantize, bool SkipValidate, IQualityJudge? Judge, Device Device);

/// <summary>
/// The TurboDiffusion recipe as stages, in order. The distiller's two stages — distill (rCM: the few-step student,
/// the teacher's CFG distilled in, its sampler's explicit times) and sparsify (SLA fine-tuning: per-block attention)
/// — go before quantize, which calibrates on whatever model and sampler they leave.
/// </summary>
public static class ConversionRecipe
{
    public static IReadOnlyList<IConversionStage> Stages(RecipeChoices choices)
    {
        var stages = new List<IConversionStage>();
        if (!choices.SkipQuantize) stages.Add(new QuantizeStage(choices.Quantize, choices.Judge, choices.Device));
        stages.Add(new PackageStage(choices.Package, choices.Attention));
        if (!choices.SkipValidate) stages.Add(new ValidateStage(choices.Validate, choices.Device));
        return stages;
    }
}
