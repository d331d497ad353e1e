using Turbo.Runtime;
using Turbo.Runtime.Sampling;

namespace Turbo.Quantizer.Calibration;

/// <summary>
/// How the model is run over calibration (and evaluation) inputs: the whole sampling loop on the schedule the
/// model will be used with, so activations are observed at exactly its timesteps and along its own trajectories.
/// </summary>
/// <param name="Solver">"unipc" or "euler"</param>
/// <param name="Guidance">classifier-free guidance scale; 1 = conditional pass only (e.g. a distilled student)</param>
/// <param name="RowsPerCall">activation rows kept per layer and model call, for the smoothing search and error metrics</param>
/// <param name="Seed">seeds the choice of kept rows</param>
public sealed record CalibrationSettings(FlowMatchSchedule Schedule, string Solver, double Guidance, int RowsPerCall, ulong Seed)
{
    public static readonly string[] Solvers = FlowSolvers.Names;

    public IFlowSampler CreateSampler() => FlowSolvers.Create(Solver);

    /// <summary>Guided model evaluations per sample: one per step of the schedule.</summary>
    public int Steps => Schedule.Steps;

    public void Validate()
    {
        CreateSampler();
        if (!double.IsFinite(Guidance) || Guidance < 1) throw new TurboException($"guidance {Guidance}: expected a finite scale ≥ 1");
        if (RowsPerCall < 1) throw new TurboException($"calibration rows per call {RowsPerCall}: must be at least 1");
    }
}
