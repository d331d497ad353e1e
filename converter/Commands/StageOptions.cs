using System.CommandLine;
using Turbo.Converter.Conversion;
using Turbo.Converter.Validation;
using Turbo.Quantizer.Selection;
using Turbo.Runtime.Quant;

namespace Turbo.Converter.Commands;

/// <summary>The tuning options of the quantize stage, spelled the same by `run` and `quantize`.</summary>
public sealed class QuantizeStageOptions
{
    static readonly QuantizeSettings Defaults = new();

    public Option<string> Scheme { get; } = new("--scheme")
    {
        Description = "int8-channel (INT8, per-output-channel weight scales: cuBLASLt's INT8 GEMM on the GPU), int8-block128 (INT8, 128x128 weight blocks, TurboDiffusion's: the slower mma kernel) or fp8 (e4m3, per channel); activations are quantized per token, dynamically",
        DefaultValueFactory = _ => Defaults.Scheme,
    };
    public Option<bool> Smooth { get; } = new("--smooth") { Description = "search SmoothQuant smoothing per layer (alpha grid, or none, whichever gives the lowest output error)" };
    public Option<int> AlphaSteps { get; } = new("--alpha-steps") { Description = "alpha grid 0, 1/N, ..., 1 for --smooth", DefaultValueFactory = _ => Defaults.AlphaSteps };
    public Option<int> Samples { get; } = new("--calib-samples") { Description = "calibration samples (whole sampling runs; for a model folder: prompts)", DefaultValueFactory = _ => Defaults.Prompts };
    public Option<int> EvalSamples { get; } = new("--eval-samples") { Description = "held-out samples for the quantizer's end-to-end comparison", DefaultValueFactory = _ => Defaults.EvaluationPrompts };
    public Option<string?> PromptsFile { get; } = new("--calib-prompts-file") { Description = "calibration prompts, one per line (default: the judge's calibration list, e.g. calibration-data's for the Shapes teacher)" };
    public Option<int> Rows { get; } = new("--calib-rows") { Description = "activation rows kept per layer and model call", DefaultValueFactory = _ => Defaults.RowsPerCall };
    public Option<int> MaxRows { get; } = new("--max-rows") { Description = "activation rows kept per layer in all (for the smoothing search and error metrics)", DefaultValueFactory = _ => Defaults.MaxRows };
    public Option<string[]> Include { get; } = new("--include")
    {
        Description = $"layers to quantize, glob over names like blocks.0.self_attn.q (* within a segment, ** across, {{a,b}}); repeatable; default {string.Join(" ", LayerSelection.DefaultIncludes)}",
        AllowMultipleArgumentsPerToken = false,
    };
    public Option<string[]> Exclude { get; } = new("--exclude") { Description = "layers to keep in high precision (globs, repeatable)" };
    public Option<ulong> Seed { get; }
    public Option<string> Dtype { get; } = CommonOptions.DType();

    /// <param name="seedName">--seed where the command has no other seed, --calib-seed in `run`</param>
    public QuantizeStageOptions(string seedName)
    {
        Scheme.AcceptOnlyFromAmong(QuantFormats.Ids);
        Seed = new Option<ulong>(seedName) { Description = "seed of the calibration noise and row sampling", DefaultValueFactory = _ => Defaults.Seed };
    }

    public IEnumerable<Option> All => [Scheme, Smooth, AlphaSteps, Samples, EvalSamples, PromptsFile, Rows, MaxRows, Include, Exclude, Seed, Dtype];

    public QuantizeSettings Read(ParseResult parse) => new(
        parse.GetRequiredValue(Scheme), parse.GetValue(Smooth), parse.GetValue(AlphaSteps), parse.GetValue(Samples), parse.GetValue(EvalSamples),
        parse.GetValue(PromptsFile) is { } file ? PromptChoice.ReadFile(file) : null, parse.GetValue(Rows), parse.GetValue(MaxRows),
        parse.GetValue(Include) is { Length: > 0 } include ? include : null, parse.GetValue(Exclude) is { Length: > 0 } exclude ? exclude : null,
        parse.GetValue(Seed), parse.GetRequiredValue(Dtype));
}

/// <summary>The options of validation, spelled the same by `run` and `validate`.</summary>
public sealed class ValidateStageOptions
{
    static readonly ValidationOptions Defaults = new();

    public Option<int> Prompts { get; } = new("--prompts") { Description = "prompts to validate on, spread over the list; one clip each from teacher and package", DefaultValueFactory = _ => Defaults.Prompts };
    public Option<string?> PromptsFile { get; } = new("--prompts-file") { Description = "validation prompts, one per line (default: the judge's evaluation list, e.g. the Shapes teacher's held-out prompts)" };
    public Option<long> Seed { get; } = new("--seed") { Description = "noise seed (clip i starts from the noise of seed and i, for teacher and package alike)", DefaultValueFactory = _ => Defaults.Seed };
    public Option<string> Judge { get; } = new("--judge") { Description = "quality judge: auto (the one that recognizes the teacher), none, or shapes-oracle", DefaultValueFactory = _ => QualityJudges.Auto };
    public Option<double?> MinPsnr { get; } = new("--gate-min-psnr") { Description = "fail (exit 3) when the mean PSNR of the package's clips against the teacher's is below this (dB)" };
    public Option<double?> MaxAdherenceDrop { get; } = new("--gate-max-adherence-drop") { Description = "fail (exit 3) when the judge's prompt adherence drops by more than this from teacher to package (0-1, e.g. 0.05)" };

    public ValidateStageOptions() => Judge.AcceptOnlyFromAmong([.. QualityJudges.Choices]);

    public IEnumerable<Option> All => [Prompts, PromptsFile, Seed, Judge, MinPsnr, MaxAdherenceDrop];

    public ValidationOptions Read(ParseResult parse) => new(
        parse.GetValue(Prompts), parse.GetValue(Seed), parse.GetValue(PromptsFile) is { } file ? PromptChoice.ReadFile(file) : null,
        parse.GetRequiredValue(Judge), parse.GetValue(MinPsnr), parse.GetValue(MaxAdherenceDrop));
}

/// <summary>The package stage's option.</summary>
public static class PackageStageOptions
{
    public static Option<string> Attention()
    {
        var option = new Option<string>("--attention")
        {
            Description = "self-attention of the package: sage (SageAttention-style INT8 q·k and FP8 P·V in every block, SLA blocks become SageSLA: what the CUDA kernels run) or keep (the model's own, exact: a reference path, slow at video lengths)",
            DefaultValueFactory = _ => PackageStage.SageAttention,
        };
        option.AcceptOnlyFromAmong(PackageStage.AttentionChoices);
        return option;
    }
}
