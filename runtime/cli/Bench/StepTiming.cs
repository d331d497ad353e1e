namespace Turbo.Cli.Bench;

/// <summary>
/// Whether a sampler's single-step time (the median of `turbo bench`'s timed calls) agrees with its loop's time per
/// step. Both time the same work, so a gap past <see cref="Tolerance"/> means the run was too short to settle — a slow
/// call after too few warm-ups, or clocks moving under the power limit — and the per-step speed-up is not to be read.
/// </summary>
public static class StepTiming
{
    public const double Tolerance = 0.10;

    /// <returns>null when the two agree, else a one-line note that names both times.</returns>
    public static string? Disagreement(string who, double msPerStep, double loopSeconds, int steps)
    {
        double loopMs = loopSeconds * 1000 / steps, ratio = msPerStep / loopMs;
        return Math.Abs(ratio - 1) <= Tolerance
            ? null
            : $"{who}: a timed step took {msPerStep:F1} ms, the loop {loopMs:F1} ms per step ({ratio:F2}×); " +
              "the per-step speed-up is unsettled (more --warmup or --repeats), the loop's is the one to read";
    }
}
