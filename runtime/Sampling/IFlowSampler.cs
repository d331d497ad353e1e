using static TorchSharp.torch;

namespace Turbo.Runtime.Sampling;

/// <summary>
/// The model as a sampler sees it: latents x [B, ...] and timesteps [B] (float32, σ·1000) → velocity shaped like x.
/// </summary>
public delegate Tensor VelocityModel(Tensor x, Tensor timestep);

/// <summary>Progress report: <paramref name="step"/> of <paramref name="steps"/> model evaluations are done.</summary>
public delegate void SamplingProgress(int step, int steps);

/// <summary>Integrates a flow-matching model from noise (σ_0) down the schedule to σ_N.</summary>
public interface IFlowSampler
{
    /// <summary>Returns the final latents (float32, same shape as the noise); the caller disposes them.</summary>
    Tensor Sample(VelocityModel velocity, Tensor noise, FlowMatchSchedule schedule, SamplingProgress? progress = null);
}
