namespace Turbo.Runtime.Sampling;

/// <summary>
/// The sampling times of an rCM student (TurboDiffusion's Wan2.1 inference): TrigFlow times
/// [atan(σ_max), 1.5, 1.4, 1.0] cut to the first N (1 ≤ N ≤ 4), then 0, each turned into the rectified-flow
/// noise level s = sin t / (sin t + cos t) the Wan model is called at (timestep 1000·s). σ_max is the EDM noise level
/// of the first step (80 for Wan2.1 at 480p; TurboDiffusion uses 120 for 14B at 720p): t_0 = atan(σ_max) is just
/// below π/2, pure noise.
/// </summary>
public static class RcmSchedule
{
    public const int MaxSteps = 4;
    public const double DefaultSigmaMax = 80;

    /// <summary>The TrigFlow times after the first, in order (rCM's own code offers [1.3, 1.0, 0.6] instead).</summary>
    public static readonly IReadOnlyList<double> MidTimes = [1.5, 1.4, 1.0];

    /// <summary>N + 1 TrigFlow times, the last 0.</summary>
    public static IReadOnlyList<double> TrigFlowTimes(int steps, double sigmaMax = DefaultSigmaMax)
    {
        if (steps is < 1 or > MaxSteps)
            throw new TurboException($"rCM schedule: steps must be 1 to {MaxSteps}, found {steps}");
        if (!double.IsFinite(sigmaMax) || sigmaMax <= 0)
            throw new TurboException($"rCM schedule: sigma_max must be a positive number, found {sigmaMax}");
        double first = Math.Atan(sigmaMax);
        if (steps > 1 && first <= MidTimes[0])
            throw new TurboException(
                $"rCM schedule: sigma_max {sigmaMax} starts at TrigFlow time {first:F4}, not above the next time {MidTimes[0]} (needs sigma_max > {Math.Tan(MidTimes[0]):F1})");
        return [first, .. MidTimes.Take(steps - 1), 0.0];
    }

    /// <summary>The schedule in rectified-flow noise levels (exact, not rounded to float32) and timesteps 1000·s.</summary>
    public static FlowMatchSchedule Create(int steps, double sigmaMax = DefaultSigmaMax)
    {
        var sigmas = TrigFlowTimes(steps, sigmaMax).Select(TrigFlow.ToRectified).ToArray();
        return new FlowMatchSchedule(sigmas, sigmas.Take(steps).Select(s => s * FlowMatchSchedule.TrainTimesteps).ToArray());
    }
}
