using static TorchSharp.torch;

namespace Turbo.Quantizer.Reports;

/// <summary>How far an approximation is from a reference, all computed in float64.</summary>
public static class ErrorMetrics
{
    /// <summary>Signal-to-quantization-noise ratio, dB: 10·log10(Σ ref² / Σ (ref − approx)²); +∞ when identical.</summary>
    public static double SqnrDb(Tensor reference, Tensor approx)
    {
        var (signal, noise) = Energies(reference, approx);
        return noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal / noise);
    }

    /// <summary>‖ref − approx‖ / ‖ref‖.</summary>
    public static double RelativeError(Tensor reference, Tensor approx)
    {
        var (signal, noise) = Energies(reference, approx);
        return signal == 0 ? (noise == 0 ? 0 : double.PositiveInfinity) : Math.Sqrt(noise / signal);
    }

    /// <summary>Cosine similarity of the flattened tensors (1 when both are zero).</summary>
    public static double Cosine(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        var x = a.to(ScalarType.Float64).flatten();
        var y = b.to(ScalarType.Float64).to(x.device).flatten();
        double xx = x.dot(x).item<double>(), yy = y.dot(y).item<double>();
        if (xx == 0 || yy == 0) return xx == yy ? 1 : 0;
        return x.dot(y).item<double>() / Math.Sqrt(xx * yy);
    }

    static (double Signal, double Noise) Energies(Tensor reference, Tensor approx)
    {
        if (!reference.shape.SequenceEqual(approx.shape))
            throw new ArgumentException($"shapes differ: [{string.Join(", ", reference.shape)}] vs [{string.Join(", ", approx.shape)}]");
        using var scope = NewDisposeScope();
        var r = reference.to(ScalarType.Float64);
        var d = r - approx.to(ScalarType.Float64).to(r.device);
        return (r.square().sum().item<double>(), d.square().sum().item<double>());
    }
}
