using static TorchSharp.torch;

namespace Turbo.Quantizer.Calibration;

/// <summary>
/// A fixed log-scale histogram of per-token absmax values (what sets each token's activation scale): 8 bins per
/// octave from 2⁻³² to 2³², values outside clamped into the end bins (zeros into the first). Quantiles read from
/// it are upper bin edges, so within 2^(1/8) ≈ 9 % above the true value.
/// </summary>
public static class TokenHistogram
{
    public const int BinsPerOctave = 8;
    public const int MinExponent = -32, MaxExponent = 32;
    public const int Bins = (MaxExponent - MinExponent) * BinsPerOctave;

    /// <summary>Counts of <paramref name="rowAbsMax"/> [M] per bin, [Bins] float64 on the CPU.</summary>
    public static Tensor Count(Tensor rowAbsMax)
    {
        using var scope = NewDisposeScope();
        var exponent = rowAbsMax.to(ScalarType.Float64).clamp_min(Math.Pow(2, MinExponent)).log2()
            .clamp(MinExponent, MaxExponent - 1e-6);
        return histc(exponent, Bins, MinExponent, MaxExponent).cpu().MoveToOuterDisposeScope();
    }

    /// <summary>The value below which a fraction <paramref name="q"/> of the counted tokens lie (upper bin edge); 0 when empty.</summary>
    public static double Quantile(Tensor counts, double q)
    {
        var values = counts.to(ScalarType.Float64).data<double>().ToArray();
        double total = values.Sum(), seen = 0;
        if (total <= 0) return 0;
        for (int i = 0; i < values.Length; i++)
        {
            seen += values[i];
            if (seen >= q * total) return Math.Pow(2, MinExponent + (i + 1.0) / BinsPerOctave);
        }
        return Math.Pow(2, MaxExponent);
    }
}
