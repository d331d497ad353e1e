namespace Turbo.Runtime.Sampling;

/// <summary>
/// The samplers a model or package names by solver, and the schedule it is sampled on: Wan's shifted flow grid of
/// <c>steps</c> (as WanPipeline configures its scheduler), or explicit noise levels for few-step samplers.
/// </summary>
public static class FlowSolvers
{
    public static readonly string[] Names = ["unipc", "euler"];

    public static IFlowSampler Create(string solver) => solver switch
    {
        "unipc" => new UniPcSampler(),
        "euler" => new EulerSampler(),
        _ => throw new TurboException($"solver '{solver}': expected {string.Join(" or ", Names)}"),
    };

    /// <param name="times">explicit noise levels σ_0 &gt; … &gt; σ_N (the last usually 0), or null for the shifted grid</param>
    public static FlowMatchSchedule Schedule(int steps, double shift, IReadOnlyList<double>? times)
    {
        if (times is null) return FlowMatchSchedule.DiffusersUniPc(steps, shift);
        if (times.Count != steps + 1)
            throw new TurboException($"sampler: {steps} steps need {steps + 1} explicit times (the last one the end level), found {times.Count}");
        return FlowMatchSchedule.FromSigmas(times);
    }
}
