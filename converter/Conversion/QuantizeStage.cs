using System.Globalization;
using Turbo.Converter.Validation;
using Turbo.Quantizer;
using Turbo.Quantizer.Calibration;
using Turbo.Quantizer.Selection;
using Turbo.Quantizer.Smoothing;
using Turbo.Runtime;
using Turbo.Runtime.Packaging;
using Turbo.Runtime.Quant;
using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Converter.Conversion;

/// <summary>
/// The quantize stage's settings (turbo-convert run / quantize options): W8A8 with INT8 weights per output channel,
/// and few prompts, so the bundled teacher converts on a 2-core CPU in minutes (raise them for real models).
/// Per channel rather than TurboDiffusion's 128×128 blocks (`int8-block128`) by measurement: the same quantization
/// error on the bundled teacher and on a synthesized Wan2.1-1.3B, and the block Linears twice as fast on an H200,
/// where per-channel scales run on cuBLASLt's INT8 GEMM and block scales need the slower mma kernel (docs/PERF.md).
/// </summary>
/// <param name="Prompts">calibration prompts: whole sampling runs of the model with its own sampler</param>
/// <param name="EvaluationPrompts">held-out prompts for the quantizer's end-to-end comparison</param>
/// <param name="PromptList">the prompts to draw from, or null for the judge's calibration list</param>
public sealed record QuantizeSettings(
    string Scheme = "int8-channel", bool Smooth = false, int AlphaSteps = 10, int Prompts = 2, int EvaluationPrompts = 1,
    IReadOnlyList<string>? PromptList = null, int RowsPerCall = 32, int MaxRows = 2048,
    IReadOnlyList<string>? Include = null, IReadOnlyList<string>? Exclude = null, ulong Seed = 0, string Dtype = "f32");

/// <summary>
/// W8A8 post-training quantization of the model's block Linears (the quantizer), calibrated on the model itself at
/// its own sampler's times (steps, shift, guidance: exactly the evaluations it will make) over prompts encoded by
/// the teacher's text encoder. Writes the quantized canonical checkpoint, the calibration statistics (an
/// interrupted stage resumes them) and the quantizer's report into its folder. The model is calibrated with the
/// self-attention the package will run (<paramref name="attention"/>, the package stage's choice): the inputs of
/// the output projections are then those the package will see, and on a GPU SageSLA's kernels compute them.
/// </summary>
/// <param name="attention"><see cref="PackageStage.KeepAttention"/> or <see cref="PackageStage.SageAttention"/></param>
public sealed class QuantizeStage(QuantizeSettings settings, IQualityJudge? judge, Device device, string attention)
    : IConversionStage
{
    public const string CheckpointFolder = "checkpoint";

    public string Name => "quantize";

    public IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["scheme"] = settings.Scheme,
        ["smooth"] = settings.Smooth ? $"alpha grid of {settings.AlphaSteps} steps" : "no",
        ["calibration prompts"] = settings.Prompts.ToString(CultureInfo.InvariantCulture),
        ["evaluation prompts"] = settings.EvaluationPrompts.ToString(CultureInfo.InvariantCulture),
        ["prompt list"] = settings.PromptList is { } list ? "sha256 " + StageMarker.Sha256(string.Join("\n", list)) : $"judge {judge?.Name ?? "(none)"}",
        ["rows per call"] = settings.RowsPerCall.ToString(CultureInfo.InvariantCulture),
        ["max rows"] = settings.MaxRows.ToString(CultureInfo.InvariantCulture),
        ["include"] = string.Join(" ", settings.Include ?? LayerSelection.DefaultIncludes),
        ["exclude"] = string.Join(" ", settings.Exclude ?? []),
        ["seed"] = settings.Seed.ToString(CultureInfo.InvariantCulture),
        ["dtype"] = settings.Dtype,
        ["calibration attention"] = attention,
    };

    public StageResult Run(StageContext context)
    {
        var input = context.Input;
        if (input.Quantization.Scheme != QuantizationSettings.None)
            throw new TurboException($"quantize: the model is already quantized ({input.Quantization.Scheme})");
        var format = QuantFormats.Parse(settings.Scheme);
        var sampler = input.Sampler;
        var calibration = new CalibrationSettings(sampler.Schedule, sampler.Solver,
            sampler.Guidance, settings.RowsPerCall, settings.Seed);
        var prompts = Prompts(settings, judge);
        var options = new QuantizationOptions(format, settings.Smooth ? SmoothQuant.Grid(settings.AlphaSteps) : null,
            new LayerSelection(settings.Include?.ToArray(), settings.Exclude?.ToArray()), settings.Prompts, settings.EvaluationPrompts,
            calibration, settings.MaxRows, long.MaxValue, Commands.ComputeOptions.ComputeDtype(settings.Dtype), device);

        string output = Path.Combine(context.Folder, CheckpointFolder);
        ClearAllButStatistics(output);
        using var reader = TransformerReader.Open(input.Transformer);
        using var inputs = new PromptCalibrationSource(input.Teacher, prompts, input.Config, VideoLatent.Of(input.Video, input.Teacher), settings.Seed);
        var source = new SourceCheckpoint(PackageStage.WithAttention(input.Config, attention), reader.Tensors, reader.Read,
            string.Join(", ", reader.Files.Select(Path.GetFileName)), StageMarker.Sha256(input.ToJson()));
        var report = WanQuantization.Run(source, inputs, options, output, new Dictionary<string, string>(), context.Progress);

        var quantized = input.With(new StageRecord(Name, Settings)) with
        {
            Transformer = new TransformerWeights(Path.Combine(output, Quantizer.Output.QuantizedCheckpointWriter.Stem + ".safetensors"), Canonical: true),
            Quantization = new QuantizationSettings
            {
                Scheme = report.Scheme, Activations = report.Activations, Layers = report.Layers.Count, Smoothing = report.Smoothing,
            },
        };
        var e2e = report.EndToEnd;
        return new StageResult(quantized,
        [
            new("layers", $"{report.Layers.Count} × {report.Scheme}{(report.Smoothing ? " smoothed" : "")}, {report.HighPrecisionLinears.Count} kept in {report.ComputeDtype}"),
            new("layer output SQNR", string.Create(CultureInfo.InvariantCulture, $"min {report.MinOutputSqnrDb:F1} dB, mean {report.MeanOutputSqnrDb:F1} dB")),
            new("velocity cosine", string.Create(CultureInfo.InvariantCulture, $"mean {e2e.VelocityCosineMean:F5}, min {e2e.VelocityCosineMin:F5} ({e2e.Samples} held-out prompt(s) × {e2e.Steps} steps)")),
            new("size", $"{Inspection.ByteSize.Format(report.Sizes.SourceBytes)} → {Inspection.ByteSize.Format(report.Sizes.OutputBytes)}"),
        ]);
    }

    /// <summary>The calibration prompts, then the held-out ones: from the settings' list, else the judge's.</summary>
    public static IReadOnlyList<string> Prompts(QuantizeSettings settings, IQualityJudge? judge) => PromptChoice.Spread(
        settings.PromptList ?? PromptChoice.Source(null, judge, j => j.CalibrationPrompts, "--calib-prompts-file"),
        settings.Prompts + settings.EvaluationPrompts, "calibration");

    /// <summary>An interrupted run's output is removed, its finished calibration samples kept (the quantizer resumes them).</summary>
    static void ClearAllButStatistics(string folder)
    {
        if (!Directory.Exists(folder)) return;
        foreach (string entry in Directory.EnumerateFileSystemEntries(folder))
        {
            if (Path.GetFileName(entry) == Quantizer.Output.QuantizationOutput.CalibrationFolder) continue;
            if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
            else File.Delete(entry);
        }
    }
}
