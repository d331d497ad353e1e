using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Distiller.Rcm;

/// <summary>
/// The TrigFlow times rCM trains at, one per sample, drawn from a generator (so a step's draws follow from its seed).
/// </summary>
public static class RcmTimes
{
    /// <summary>
    /// p_G, the sCM step's time: t = atan(σ) with σ log-normal, log σ ~ N(mean, std²) (EDM's noise level; rCM's
    /// σ is also scaled by √(latent frames), which is the same as adding ln √frames to the mean).
    /// </summary>
    public static Tensor Consistency(long batch, double logMean, double logStd, Generator generator, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var sigma = (randn(batch, dtype: ScalarType.Float64, generator: generator) * logStd + logMean).exp();
        return sigma.atan().to(dtype, device).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// p_D, the time a critic and the DMD term look at a sample: the rectified-flow level s uniform on (0, 1], shifted
    /// as Wan's sampler shifts its grid (s' = k·s / (1 + (k − 1)·s)), in TrigFlow time.
    /// </summary>
    public static Tensor Shifted(long batch, double shift, Generator generator, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var uniform = 1 - rand(batch, dtype: ScalarType.Float64, generator: generator); // (0, 1]: never the clean end, where sin t = 0
        var shifted = shift * uniform / (1 + (shift - 1) * uniform);
        return TrigFlow.FromRectified(shifted).to(dtype, device).MoveToOuterDisposeScope();
    }
}
