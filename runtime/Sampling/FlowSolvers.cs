using static TorchSharp.torch;

namespace Turbo.Runtime.Sampling;

/// <summary>
/// The samplers a model or package names by solver, and the schedule it is sampled on: Wan's shifted flow grid of
/// <c>steps</c> (as WanPipeline configures its scheduler) for UniPC and Euler, rCM's TrigFlow times for a distilled
/// student, or explicit noise levels.
/// </summary>
public static class FlowSolvers
{
    public const string UniPc = "unipc", Euler = "euler", Rcm = "rcm";

    public static readonly string[] Names = [UniPc, Euler, Rcm];

    /// <param name="freshNoise">the rCM sampler's new noise at each step (given the sample, a standard Gaussian draw of
    /// its shape); by default drawn from the global generator. The other solvers draw no noise.</param>
    public static IFlowSampler Create(string solver, Func<Tensor, Tensor>? freshNoise = null) => solver switch
    {
        UniPc => new UniPcSampler(),
        Euler => new EulerSampler(),
        Rcm => new RcmSampler(freshNoise ?? (x => randn_like(x))),
        _ => throw Unknown(solver),
    };

    /// <param name="times">explicit noise levels σ_0 &gt; … &gt; σ_N (the last usually 0), or null for the solver's own
    /// schedule: the shifted grid, or rCM's TrigFlow times from σ_max 80 (1–4 steps)</param>
    public static FlowMatchSchedule Schedule(string solver, int steps, double shift, IReadOnlyList<double>? times)
    {
        if (!Names.Contains(solver)) throw Unknown(solver);
        if (times is not null)
        {
            if (times.Count != steps + 1)
                throw new TurboException($"sampler: {steps} steps need {steps + 1} explicit times (the last one the end level), found {times.Count}");
            return FlowMatchSchedule.FromSigmas(times);
        }
        return solver == Rcm ? RcmSchedule.Create(steps) : FlowMatchSchedule.DiffusersUniPc(steps, shift);
    }

    static TurboException Unknown(string solver) => new($"solver '{solver}': expected {string.Join(", ", Names)}");
}
