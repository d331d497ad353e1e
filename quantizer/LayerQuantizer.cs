using Turbo.Quantizer.Calibration;
using Turbo.Quantizer.Reports;
using Turbo.Quantizer.Smoothing;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Quantizer;

/// <summary>
/// Quantizes one Linear weight using its calibration statistics. With an α grid, SmoothQuant is searched: no
/// smoothing and every α of the grid are tried, and the one whose quantized product on the calibration rows is
/// closest to the float product (highest output SQNR) wins; no smoothing wins ties.
/// </summary>
public static class LayerQuantizer
{
    const int ReportedOutliers = 8;

    /// <param name="weight">the original weight [N, K], on the device to compute on</param>
    /// <param name="alphaGrid">α values to search, or null for no smoothing</param>
    public static (QuantizedWeight Weight, LayerReport Report) Quantize(string layer, Tensor weight, LayerStatistics statistics,
        QuantFormat format, IReadOnlyList<double>? alphaGrid)
    {
        using var scope = NewDisposeScope();
        var w = weight.to(ScalarType.Float32);
        var rows = statistics.Rows.to(w.device);
        var reference = rows.to(ScalarType.Float64).matmul(w.to(ScalarType.Float64).t());

        var tried = new List<(double? Alpha, QuantizedWeight Weight, double Sqnr)>();
        try
        {
            tried.Add(Try(null));
            foreach (double alpha in alphaGrid ?? []) tried.Add(Try(alpha));
            var best = tried.MaxBy(t => t.Sqnr);
            foreach (var t in tried.Where(t => !ReferenceEquals(t.Weight, best.Weight))) t.Weight.Dispose();

            using var effective = best.Weight.Dequantize();
            var report = new LayerReport(layer, w.shape[0], w.shape[1], format.Id(), best.Alpha,
                ErrorMetrics.SqnrDb(w, effective), best.Sqnr, alphaGrid is null ? null : tried[0].Sqnr,
                tried.Select(t => new AlphaCandidate(t.Alpha, t.Sqnr)).ToList(), Summarize(statistics));
            return (best.Weight, report);
        }
        catch
        {
            foreach (var t in tried) t.Weight.Dispose();
            throw;
        }

        (double?, QuantizedWeight, double) Try(double? alpha)
        {
            using var inner = NewDisposeScope();
            var smooth = alpha is { } a ? SmoothQuant.Factors(statistics.ChannelAbsMax, w, a) : null;
            var quantized = WeightQuantizer.Quantize(w, format, smooth, layer + ".weight");
            var output = QuantizedLinear.Product(rows, quantized, null, ScalarType.Float32);
            double sqnr = ErrorMetrics.SqnrDb(reference, output);
            quantized.Values.DetachFromDisposeScope();
            quantized.Scale.DetachFromDisposeScope();
            quantized.Smooth?.DetachFromDisposeScope();
            return (alpha, quantized, sqnr);
        }
    }

    static ActivationSummary Summarize(LayerStatistics s)
    {
        var outliers = s.OutlierChannels();
        return new ActivationSummary(s.Tokens, s.Rows.shape[0], s.TokenAbsMaxQuantile(0.5), s.TokenAbsMaxQuantile(0.99),
            s.TokenAbsMaxQuantile(0.999), s.AbsMax, s.MaxToMedianChannelRatio, outliers.Count, outliers.Take(ReportedOutliers).ToList());
    }
}
