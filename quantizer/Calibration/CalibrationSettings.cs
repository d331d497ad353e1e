using Turbo.Runtime;
using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Quantizer.Calibration;

/// <summary>
/// How the model is run over calibration (and evaluation) inputs: the whole sampling loop on the schedule the
/// model will be used with, so activations are observed at exactly its timesteps and along its own trajectories.
/// </summary>
/// <param name="Solver">a <see cref="FlowSolvers"/> name: "unipc", "euler" or "rcm"</param>
/// <param name="Guidance">classifier-free guidance scale; 1 = conditional pass only (e.g. a distilled student)</param>
/// <param name="RowsPerCall">activation rows kept per layer and model call, for the smoothing search and error metrics</param>
/// <param name="Seed">seeds the choice of kept rows and the rCM sampler's fresh noise</param>
public sealed record CalibrationSettings(FlowMatchSchedule Schedule, string Solver, double Guidance, int RowsPerCall, ulong Seed)
{
    public static readonly string[] Solvers = FlowSolvers.Names;

    /// <param name="freshNoise">the rCM sampler's noise at each step (see <see cref="FlowSolvers.Create"/>)</param>
    public IFlowSampler CreateSampler(Func<Tensor, Tensor>? freshNoise = null) => FlowSolvers.Create(Solver, freshNoise);

    /// <summary>Guided model evaluations per sample: one per step of the schedule.</summary>
    public int Steps => Schedule.Steps;

    public void Validate()
    {
        CreateSampler();
        if (!double.IsFinite(Guidance) || Guidance < 1) throw new TurboException($"guidance {Guidance}: expected a finite scale ≥ 1");
        if (RowsPerCall < 1) throw new TurboException($"calibration rows per call {RowsPerCall}: must be at least 1");
    }
}
