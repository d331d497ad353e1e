using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Turbo.Quantizer.Reports;

/// <summary>How calibration ran.</summary>
public sealed record CalibrationSummary(
    string Source,
    int Samples,
    int EvaluationSamples,
    int Steps,
    IReadOnlyList<double> Timesteps,
    string Solver,
    double Guidance,
    int RowsPerCall);

/// <summary>Bytes before and after: the whole checkpoint, and the quantized layers' weights alone.</summary>
public sealed record SizeSummary(long SourceBytes, long OutputBytes, long QuantizedWeightsSourceBytes, long QuantizedWeightsOutputBytes);

/// <summary>Everything a quantization run decided and measured; written as quantization-report.json.</summary>
public sealed record QuantizationReport(
    string Checkpoint,
    string Scheme,
    string Activations,
    bool Smoothing,
    IReadOnlyList<double>? AlphaGrid,
    string ComputeDtype,
    string Device,
    CalibrationSummary Calibration,
    IReadOnlyList<string> HighPrecisionLinears,
    IReadOnlyList<LayerReport> Layers,
    EndToEndReport EndToEnd,
    SizeSummary Sizes,
    IReadOnlyList<string> Files)
{
    public double MinOutputSqnrDb => Layers.Min(l => l.OutputSqnrDb);
    public double MeanOutputSqnrDb => Layers.Average(l => l.OutputSqnrDb);
    public double MinWeightSqnrDb => Layers.Min(l => l.WeightSqnrDb);

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static QuantizationReport FromJson(string json) =>
        JsonSerializer.Deserialize<QuantizationReport>(json, JsonOptions) ?? throw new JsonException("empty report");
}
