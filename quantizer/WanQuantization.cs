using System.Text.Json;
using System.Text.Json.Nodes;
using Turbo.Quantizer.Calibration;
using Turbo.Quantizer.Output;
using Turbo.Quantizer.Reports;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Quantizer;

/// <summary>
/// The W8A8 stage for a Wan DiT, start to finish: load the float model, calibrate (resumable), record the float
/// model's behaviour on held-out samples, quantize the selected layers one at a time (each one's float weight is
/// released as its quantized form takes over, so the weights are never held twice), compare end to end, write the
/// checkpoint tensor by tensor, and the report last.
/// </summary>
public static class WanQuantization
{
    public const string ActivationScheme = "per-token dynamic (absmax), quantized on every call";

    /// <param name="extraFiles">small files (name → text) written into the output folder before the report, e.g. config.json</param>
    public static QuantizationReport Run(SourceCheckpoint source, ICalibrationSource inputs, QuantizationOptions options,
        string outputFolder, IReadOnlyDictionary<string, string> extraFiles, IStageProgress? progress = null)
    {
        options.Validate(inputs);
        var output = QuantizationOutput.Prepare(outputFolder);
        var infos = source.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        using var model = new WanModel(source.Config, options.ComputeDtype, options.Device);
        model.LoadWeights(name => infos.TryGetValue(name, out var info) ? info.Shape : null, source.Read, source.Name);
        model.eval();

        var allLinears = WanLinears.Of(model).Select(l => l.Name).ToList();
        var layers = options.Selection.Apply(allLinears);
        var calibration = options.Calibration;
        int steps = calibration.Steps, evaluation = options.EvaluationSamples;

        var store = new CalibrationStore(output.CalibrationPath, Fingerprint(source, inputs, options, layers));
        progress?.Begin("calibrate", options.CalibrationSamples * steps);
        var statistics = Calibrator.Run(model, layers, inputs, options.CalibrationSamples, calibration, store, options.MaxRows,
            () => progress?.Advance(1));
        try
        {
            progress?.Begin("reference", evaluation * steps);
            using var reference = EndToEndEvaluation.Record(model, inputs,
                Enumerable.Range(options.CalibrationSamples, evaluation), calibration, () => progress?.Advance(1));

            progress?.Begin("quantize", layers.Count);
            var reports = new List<LayerReport>();
            var quantized = new Dictionary<string, QuantizedWeight>(StringComparer.Ordinal);
            foreach (string layer in layers)
            {
                using (var stored = source.Read(QuantizedTensorNames.Weight(layer)))
                using (var weight = stored.to(ScalarType.Float32, options.Device))
                {
                    var (q, layerReport) = LayerQuantizer.Quantize(layer, weight, statistics[layer], options.Format, options.AlphaGrid);
                    WanLinears.Find(model, layer).UseKernel(LinearKernels.For(q));
                    quantized[layer] = q;
                    reports.Add(layerReport);
                }
                progress?.Advance(1);
            }

            progress?.Begin("evaluate", 2 * evaluation * steps);
            var endToEnd = EndToEndEvaluation.Compare(model, reference, calibration, () => progress?.Advance(1));

            long sourceBytes = source.Tensors.Sum(t => t.End - t.Begin);
            long outputBytes = source.Tensors.Where(t => !layers.Contains(LayerOfWeight(t.Name))).Sum(t => t.End - t.Begin)
                + quantized.Values.Sum(q => q.ByteCount);
            progress?.Begin("write", outputBytes);
            var files = QuantizedCheckpointWriter.Write(output.Folder, source.Tensors, source.Read, quantized, options.MaxShardBytes,
                Metadata(options, layers.Count), bytes => progress?.Advance(bytes)).ToList();
            foreach (var (name, text) in extraFiles)
            {
                output.WriteText(name, text);
                files.Add(Path.Combine(output.Folder, name));
            }

            var report = new QuantizationReport(
                source.Name, options.Format.Id(), ActivationScheme, options.AlphaGrid is not null, options.AlphaGrid,
                options.ComputeDtype.ToString(), options.Device.ToString(),
                new CalibrationSummary(inputs.Description, options.CalibrationSamples, evaluation, steps,
                    calibration.Schedule.Timesteps, calibration.Solver, calibration.Guidance, calibration.RowsPerCall),
                allLinears.Where(l => !layers.Contains(l)).ToList(), reports, endToEnd,
                new SizeSummary(sourceBytes, outputBytes,
                    layers.Sum(l => infos[QuantizedTensorNames.Weight(l)].End - infos[QuantizedTensorNames.Weight(l)].Begin),
                    quantized.Values.Sum(q => q.ByteCount)),
                [.. files.Select(Path.GetFileName).OfType<string>(), QuantizationOutput.ReportFile]);
            output.WriteText(QuantizationOutput.ReportFile, report.ToJson());
            return report;
        }
        finally
        {
            foreach (var s in statistics.Values) s.Dispose();
        }
    }

    /// <summary>"blocks.0.ffn.0" for "blocks.0.ffn.0.weight", else "" (not a weight).</summary>
    static string LayerOfWeight(string tensor) =>
        tensor.EndsWith(".weight", StringComparison.Ordinal) ? tensor[..^".weight".Length] : "";

    /// <summary>Everything that shapes the statistics; a resumed calibration must match it exactly.</summary>
    static JsonObject Fingerprint(SourceCheckpoint source, ICalibrationSource inputs, QuantizationOptions options, IReadOnlyList<string> layers) => new()
    {
        ["checkpoint"] = source.Identity,
        ["config"] = JsonSerializer.Serialize(source.Config),
        ["inputs"] = inputs.Description,
        ["timesteps"] = string.Join(", ", options.Calibration.Schedule.Timesteps),
        ["sigmas"] = string.Join(", ", options.Calibration.Schedule.Sigmas),
        ["solver"] = options.Calibration.Solver,
        ["guidance"] = options.Calibration.Guidance,
        ["rows_per_call"] = options.Calibration.RowsPerCall,
        ["seed"] = options.Calibration.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["compute_dtype"] = options.ComputeDtype.ToString(),
        ["layers"] = string.Join(", ", layers),
    };

    static Dictionary<string, string> Metadata(QuantizationOptions options, int layers) => new()
    {
        ["format"] = "pt",
        [QuantizedTensorNames.MetadataKey] = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["scheme"] = options.Format.Id(),
            ["activations"] = ActivationScheme,
            ["smoothing"] = options.AlphaGrid is not null,
            ["quantized_layers"] = layers,
        }),
    };
}
