using static TorchSharp.torch;

namespace Turbo.Quantizer.Calibration;

/// <summary>
/// What calibration learned about one Linear layer's input, on the CPU: per-input-channel absmax [K] (float32),
/// the per-token absmax histogram (<see cref="TokenHistogram"/>, float64 counts), and a sample of input rows
/// [R, K] (float32) for the smoothing search and error measurements. Owns its tensors.
/// </summary>
public sealed class LayerStatistics(Tensor channelAbsMax, Tensor tokenHistogram, Tensor rows) : IDisposable
{
    /// <summary>A channel is an outlier when its absmax exceeds this many times the median channel's.</summary>
    public const double OutlierFactor = 8.0;

    public Tensor ChannelAbsMax { get; } = channelAbsMax;
    public Tensor TokenHistogram { get; } = tokenHistogram;
    public Tensor Rows { get; } = rows;

    public long InFeatures => ChannelAbsMax.shape[0];

    public long Tokens
    {
        get
        {
            using var sum = TokenHistogram.sum();
            return (long)Math.Round(sum.item<double>());
        }
    }

    public double AbsMax
    {
        get
        {
            using var max = ChannelAbsMax.max();
            return max.item<float>();
        }
    }

    /// <summary>A per-token absmax quantile: the histogram's upper bin edge, but never above the largest value seen.</summary>
    public double TokenAbsMaxQuantile(double q) => Math.Min(Calibration.TokenHistogram.Quantile(TokenHistogram, q), AbsMax);

    /// <summary>Largest channel absmax over the median channel's (∞ when the median is 0 and some channel is not).</summary>
    public double MaxToMedianChannelRatio
    {
        get
        {
            double median = Median();
            return median > 0 ? AbsMax / median : AbsMax > 0 ? double.PositiveInfinity : 1;
        }
    }

    /// <summary>Channels whose absmax exceeds <see cref="OutlierFactor"/> × the median, largest first.</summary>
    public IReadOnlyList<int> OutlierChannels()
    {
        double threshold = OutlierFactor * Median();
        var values = ChannelAbsMax.data<float>().ToArray();
        return Enumerable.Range(0, values.Length).Where(i => values[i] > threshold)
            .OrderByDescending(i => values[i]).ToList();
    }

    double Median()
    {
        using var median = ChannelAbsMax.median();
        return median.item<float>();
    }

    /// <summary>
    /// Statistics over all of <paramref name="parts"/>: channel maxima, summed histograms, rows concatenated and,
    /// above <paramref name="maxRows"/>, thinned to an evenly strided subset.
    /// </summary>
    public static LayerStatistics Merge(IReadOnlyList<LayerStatistics> parts, int maxRows)
    {
        using var scope = NewDisposeScope();
        var channel = stack(parts.Select(p => p.ChannelAbsMax).ToArray()).amax([0L]);
        var histogram = stack(parts.Select(p => p.TokenHistogram).ToArray()).sum([0L]);
        var rows = cat(parts.Select(p => p.Rows).ToArray());
        if (rows.shape[0] > maxRows)
        {
            using var picked = linspace(0, rows.shape[0] - 1, maxRows).round().to(ScalarType.Int64);
            rows = rows.index_select(0, picked);
        }
        return new LayerStatistics(channel.MoveToOuterDisposeScope(), histogram.MoveToOuterDisposeScope(), rows.MoveToOuterDisposeScope());
    }

    public void Dispose()
    {
        ChannelAbsMax.Dispose();
        TokenHistogram.Dispose();
        Rows.Dispose();
    }
}
