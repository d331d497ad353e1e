using Turbo.Runtime;
using static TorchSharp.torch;

namespace Turbo.Quantizer.Smoothing;

/// <summary>
/// SmoothQuant (Xiao et al. 2023): per input channel k, s_k = max|X_k|^α / max|W_k|^(1−α); the layer computes
/// (X/s)·(W·s)ᵀ = X·Wᵀ, moving quantization difficulty from activation outliers into the weight. α = 0.5 balances
/// the two; larger α flattens the activations more. Channels that never fire, or whose weight column is zero,
/// keep s = 1. In Wan the layers' inputs come from modulated norms whose scale depends on the timestep, so s
/// cannot be folded into a preceding norm: it stays a [K] vector the activation quantizer divides by.
/// </summary>
public static class SmoothQuant
{
    const double Floor = 1e-5;

    /// <param name="channelAbsMax">max |X_k| over calibration [K]</param>
    /// <param name="weight">[N, K]</param>
    /// <returns>s [K] float32, positive</returns>
    public static Tensor Factors(Tensor channelAbsMax, Tensor weight, double alpha)
    {
        if (!(alpha >= 0 && alpha <= 1)) throw new TurboException($"SmoothQuant alpha {alpha}: must lie in [0, 1]");
        if (channelAbsMax.dim() != 1 || weight.dim() != 2 || weight.shape[1] != channelAbsMax.shape[0])
            throw new TurboException($"SmoothQuant: activation maxima [{string.Join(", ", channelAbsMax.shape)}] do not fit weight [{string.Join(", ", weight.shape)}]");
        using var scope = NewDisposeScope();
        var activation = channelAbsMax.to(ScalarType.Float32, weight.device);
        var weightMax = weight.to(ScalarType.Float32).abs().amax([0L]);
        var s = activation.clamp_min(Floor).pow(alpha) / weightMax.clamp_min(Floor).pow(1 - alpha);
        var live = (activation > 0).logical_and(weightMax > 0).logical_and(s.isfinite());
        return where(live, s.clamp_min(Floor), ones_like(s)).MoveToOuterDisposeScope();
    }

    /// <summary>α = 0, 1/steps, …, 1.</summary>
    public static IReadOnlyList<double> Grid(int steps)
    {
        if (steps < 1) throw new TurboException($"alpha grid steps {steps}: must be at least 1");
        return Enumerable.Range(0, steps + 1).Select(i => (double)i / steps).ToArray();
    }
}
