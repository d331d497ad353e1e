namespace Turbo.Distiller.Training;

/// <summary>
/// Linear warm-up to the peak rate, then a cosine decay to <see cref="FinalFraction"/> of it at the last step. Short
/// runs (the teacher trains in blocks of minutes) gain most of their final quality from the decay at the end.
/// </summary>
public sealed record LearningRateSchedule(double Peak, long Steps)
{
    public const double FinalFraction = 0.1;

    /// <summary>Warm-up length: 5% of the run, at most 500 steps.</summary>
    public long WarmupSteps => Math.Max(1, Math.Min(500, Steps / 20));

    /// <summary>The rate for optimizer step <paramref name="step"/> (0-based).</summary>
    public double At(long step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        double progress = Math.Min(1.0, (double)(step - WarmupSteps) / Math.Max(1, Steps - WarmupSteps));
        return Peak * (FinalFraction + (1 - FinalFraction) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }
}
