namespace Turbo.Quantizer.Reports;

/// <summary>The output SQNR one smoothing choice reached during the search (Alpha null = no smoothing).</summary>
public sealed record AlphaCandidate(double? Alpha, double OutputSqnrDb);

/// <summary>
/// One quantized layer: what was chosen and how much error it makes. SQNRs are in dB; the weight SQNR compares
/// the effective weight with the original, the output SQNR compares the layer's product (bias excluded) on the
/// calibration rows with the float64 product of the original weight.
/// </summary>
public sealed record LayerReport(
    string Name,
    long OutFeatures,
    long InFeatures,
    string Format,
    double? Alpha,
    double WeightSqnrDb,
    double OutputSqnrDb,
    double? OutputSqnrUnsmoothedDb,
    IReadOnlyList<AlphaCandidate> Candidates,
    ActivationSummary Activations);

/// <summary>
/// The layer's input as calibration saw it: token count and rows kept, per-token absmax quantiles (from the
/// log histogram: upper bin edges, capped at the absmax), the overall absmax, and the outlier channels (absmax above 8× the median's).
/// </summary>
public sealed record ActivationSummary(
    long Tokens,
    long RowsKept,
    double TokenAbsMaxP50,
    double TokenAbsMaxP99,
    double TokenAbsMaxP999,
    double AbsMax,
    double MaxToMedianChannelRatio,
    int OutlierChannels,
    IReadOnlyList<int> TopOutlierChannels);
