namespace Turbo.Runtime.Sampling;

/// <summary>
/// A flow-matching sampling schedule: noise levels σ_0 &gt; σ_1 &gt; … &gt; σ_N (σ_N usually 0) and the timestep the model
/// is given at each of the N steps (σ·1000). Convention: x_σ = (1 − σ)·x0 + σ·noise, the model predicts the velocity
/// v = noise − x0, so x0 = x_σ − σ·v. Sigmas are stored rounded to float32, as upstream schedulers keep them.
/// </summary>
public sealed class FlowMatchSchedule
{
    public const int TrainTimesteps = 1000;

    /// <summary>N + 1 noise levels, strictly decreasing.</summary>
    public IReadOnlyList<double> Sigmas { get; }

    /// <summary>N model timesteps.</summary>
    public IReadOnlyList<double> Timesteps { get; }

    public int Steps => Timesteps.Count;

    /// <summary>The N noise levels the model is called at (every level but the last).</summary>
    public IReadOnlyList<double> ModelSigmas => Sigmas.Take(Steps).ToArray();

    /// <summary>
    /// The first <paramref name="count"/> steps of this schedule (all of them when count ≥ N): what a benchmark runs to
    /// time part of a long loop and extrapolate.
    /// </summary>
    public FlowMatchSchedule Leading(int count)
    {
        if (count < 1) throw new TurboException($"schedule: expected at least 1 leading step, found {count}");
        return count >= Steps ? this : new FlowMatchSchedule(Sigmas.Take(count + 1).ToArray(), Timesteps.Take(count).ToArray());
    }

    public FlowMatchSchedule(IReadOnlyList<double> sigmas, IReadOnlyList<double> timesteps)
    {
        if (timesteps.Count < 1 || sigmas.Count != timesteps.Count + 1)
            throw new TurboException(
                $"schedule: expected N ≥ 1 timesteps and N + 1 sigmas, found {timesteps.Count} timesteps and {sigmas.Count} sigmas");
        for (int i = 0; i < sigmas.Count; i++)
        {
            if (!double.IsFinite(sigmas[i]) || sigmas[i] < 0 || sigmas[i] > 1)
                throw new TurboException($"schedule: sigma {i} = {sigmas[i]} is outside [0, 1]");
            if (i > 0 && sigmas[i] >= sigmas[i - 1])
                throw new TurboException($"schedule: sigmas must decrease strictly, but sigma {i} = {sigmas[i]} ≥ {sigmas[i - 1]}");
        }
        if (timesteps.Any(t => !double.IsFinite(t)))
            throw new TurboException("schedule: timesteps must be finite");
        Sigmas = sigmas.ToArray();
        Timesteps = timesteps.ToArray();
    }

    /// <summary>The flow shift σ' = s·σ / (1 + (s − 1)·σ), which spends more steps at high noise for s &gt; 1.</summary>
    public static double Shift(double sigma, double shift) => shift * sigma / (1 + (shift - 1) * sigma);

    /// <summary>
    /// The original Wan2.1 schedule (FlowUniPCMultistepScheduler.set_timesteps): σ = linspace(σ_max, 0, N + 1)[:-1]
    /// shifted, then a final 0; σ_max is 0.999 as the float32 the scheduler stores it in; timesteps = ⌊σ·1000⌋ (int64).
    /// </summary>
    public static FlowMatchSchedule WanOriginal(int steps, double shift)
    {
        CheckArguments(steps, shift);
        double sigmaMax = (float)(1.0 - 1.0 / TrainTimesteps);
        var grid = Linspace(sigmaMax, 0.0, steps + 1).Take(steps).Select(s => Shift(s, shift)).ToArray();
        return FromShiftedGrid(grid);
    }

    /// <summary>
    /// The diffusers UniPCMultistepScheduler flow grid (use_flow_sigmas, as WanPipeline configures it):
    /// σ = linspace(1, 1/1000, N + 1)[:-1] shifted by flow_shift; a first σ within 1e-6 of 1 is lowered by 1e-6 (so
    /// log α stays finite); timesteps = ⌊σ·1000⌋ (int64); final σ 0.
    /// </summary>
    public static FlowMatchSchedule DiffusersUniPc(int steps, double flowShift)
    {
        CheckArguments(steps, flowShift);
        var grid = Linspace(1.0, 1.0 / TrainTimesteps, steps + 1).Take(steps).Select(s => Shift(s, flowShift)).ToArray();
        const double eps = 1e-6;
        if (Math.Abs(grid[0] - 1.0) < eps) grid[0] -= eps;
        return FromShiftedGrid(grid);
    }

    /// <summary>A schedule from explicit noise levels (final one included); timesteps σ·1000 without rounding.</summary>
    public static FlowMatchSchedule FromSigmas(IReadOnlyList<double> sigmas) =>
        new(sigmas.Select(s => (double)(float)s).ToArray(), sigmas.Take(sigmas.Count - 1).Select(s => s * TrainTimesteps).ToArray());

    static FlowMatchSchedule FromShiftedGrid(double[] grid)
    {
        var timesteps = grid.Select(s => Math.Truncate(s * TrainTimesteps)).ToArray();
        var sigmas = grid.Select(s => (double)(float)s).Append(0.0).ToArray();
        return new FlowMatchSchedule(sigmas, timesteps);
    }

    /// <summary>numpy.linspace: start + i·step, the last value exactly <paramref name="stop"/>.</summary>
    static double[] Linspace(double start, double stop, int count)
    {
        var values = new double[count];
        double step = (stop - start) / (count - 1);
        for (int i = 0; i < count; i++) values[i] = i * step + start;
        values[^1] = stop;
        return values;
    }

    static void CheckArguments(int steps, double shift)
    {
        if (steps < 1) throw new TurboException($"schedule: steps must be at least 1, found {steps}");
        if (!double.IsFinite(shift) || shift <= 0) throw new TurboException($"schedule: shift must be positive, found {shift}");
    }
}
