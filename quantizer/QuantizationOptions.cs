using Turbo.Quantizer.Calibration;
using Turbo.Quantizer.Selection;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Quantizer;

/// <summary>A float checkpoint seen through canonical names: its config, header entries and a reader.</summary>
/// <param name="Name">names the checkpoint in messages and the report</param>
/// <param name="Identity">tells these weights apart from others (e.g. full paths, sizes, modification times): calibration statistics are only resumed for the same identity</param>
public sealed record SourceCheckpoint(WanConfig Config, IReadOnlyList<TensorInfo> Tensors, Func<string, Tensor> Read, string Name, string Identity);

/// <summary>What to quantize and how.</summary>
/// <param name="AlphaGrid">SmoothQuant α values to search per layer, or null for no smoothing</param>
/// <param name="CalibrationSamples">samples 0..n−1 of the input source calibrate</param>
/// <param name="EvaluationSamples">the next samples are held out for the end-to-end comparison</param>
/// <param name="MaxRows">activation rows kept per layer over the whole calibration</param>
/// <param name="MaxShardBytes">the checkpoint is split into shards above this size</param>
public sealed record QuantizationOptions(
    QuantFormat Format,
    IReadOnlyList<double>? AlphaGrid,
    LayerSelection Selection,
    int CalibrationSamples,
    int EvaluationSamples,
    CalibrationSettings Calibration,
    int MaxRows,
    long MaxShardBytes,
    ScalarType ComputeDtype,
    Device Device)
{
    public void Validate(ICalibrationSource inputs)
    {
        Calibration.Validate();
        if (CalibrationSamples < 1) throw new TurboException($"calibration samples {CalibrationSamples}: must be at least 1");
        if (EvaluationSamples < 1) throw new TurboException($"evaluation samples {EvaluationSamples}: must be at least 1");
        if (inputs.Count < CalibrationSamples + EvaluationSamples)
            throw new TurboException(
                $"calibration inputs: {inputs.Count} samples, but {CalibrationSamples} calibration + {EvaluationSamples} evaluation samples were asked for");
        if (MaxRows < 1) throw new TurboException($"maximum calibration rows {MaxRows}: must be at least 1");
        if (MaxShardBytes < 1) throw new TurboException($"maximum shard size {MaxShardBytes}: must be positive");
        if (AlphaGrid is not null && (AlphaGrid.Count == 0 || AlphaGrid.Any(a => !(a >= 0 && a <= 1))))
            throw new TurboException("SmoothQuant alpha grid: expected one or more values in [0, 1]");
    }
}

/// <summary>Reports progress stage by stage (calibrate, reference, quantize, evaluate, write).</summary>
public interface IStageProgress
{
    void Begin(string stage, double total);
    void Advance(double units);
}
