namespace Turbo.Distiller.Training;

/// <summary>
/// The factor every optimizer's own learning rate is multiplied by at each step: a linear warm-up, then a cosine
/// decay to <see cref="FinalFraction"/> at the last step. Short runs (the teacher trains in blocks of minutes) gain
/// much of their final quality from the decay at the end.
/// </summary>
public sealed record LearningRateSchedule(long Steps)
{
    public const double FinalFraction = 0.1;

    /// <summary>Warm-up length: 5% of the run, at most 500 steps.</summary>
    public long WarmupSteps => Math.Max(1, Math.Min(500, Steps / 20));

    /// <summary>The factor for optimizer step <paramref name="step"/> (0-based).</summary>
    public double FactorAt(long step)
    {
        if (step < WarmupSteps) return (double)(step + 1) / WarmupSteps;
        double progress = Math.Min(1.0, (double)(step - WarmupSteps) / Math.Max(1, Steps - WarmupSteps));
        return FinalFraction + (1 - FinalFraction) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
