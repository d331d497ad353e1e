using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Runtime.Sampling;

/// <summary>First-order flow-matching Euler: x ← x + (σ_next − σ)·v at every step.</summary>
public sealed class EulerSampler : IFlowSampler
{
    public Tensor Sample(VelocityModel velocity, Tensor noise, FlowMatchSchedule schedule, SamplingProgress? progress = null)
    {
        var x = SamplerStep.Start(noise);
        var sigmas = schedule.Sigmas;
        using var pause = CollectionPause.Begin();
        for (int i = 0; i < schedule.Steps; i++)
        {
            using (var scope = NewDisposeScope())
            {
                var v = SamplerStep.Velocity(velocity, x, schedule.Timesteps[i]);
                var next = (x + (sigmas[i + 1] - sigmas[i]) * v).MoveToOuterDisposeScope();
                x.Dispose();
                x = next;
            }
            pause.Checkpoint();
            progress?.Invoke(i + 1, schedule.Steps);
        }
        return x;
    }
}
