using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Runtime.Sampling;

/// <summary>
/// The few-step consistency sampler of an rCM student (TurboDiffusion's inference loop), for a schedule such as
/// <see cref="RcmSchedule.Create"/>: the sample starts at x = σ_0·noise (the rectified-flow point of pure noise,
/// the clean part being unknown); at each level the model's velocity gives the clean estimate x0 = x − σ_i·v,
/// which is noised afresh to the next level, x = (1 − σ_{i+1})·x0 + σ_{i+1}·ε_i; at the final level 0 the sample is
/// x0. The student was distilled with the teacher's guidance, so it runs without CFG (guidance 1).
/// </summary>
public sealed class RcmSampler : IFlowSampler
{
    readonly Func<Tensor, Tensor> _freshNoise;

    /// <param name="freshNoise">given the current sample, new standard Gaussian noise of its shape on its device (each
    /// call a new draw; one per step but the last)</param>
    public RcmSampler(Func<Tensor, Tensor> freshNoise) => _freshNoise = freshNoise;

    public Tensor Sample(VelocityModel velocity, Tensor noise, FlowMatchSchedule schedule, SamplingProgress? progress = null)
    {
        var sigmas = schedule.Sigmas;
        if (sigmas[^1] != 0)
            throw new TurboException($"schedule: the rCM sampler ends at noise level 0, found a last sigma of {sigmas[^1]}");
        using var pause = CollectionPause.Begin();
        var x = SamplerStep.Start(noise);
        x.mul_(sigmas[0]);
        for (int i = 0; i < schedule.Steps; i++)
        {
            using (var scope = NewDisposeScope())
            {
                var v = SamplerStep.Velocity(velocity, x, schedule.Timesteps[i]);
                var x0 = x - sigmas[i] * v;
                double next = sigmas[i + 1];
                var renoised = next == 0 ? x0 : (1 - next) * x0 + next * FreshNoise(x);
                x.Dispose();
                x = renoised.MoveToOuterDisposeScope();
            }
            pause.Checkpoint();
            progress?.Invoke(i + 1, schedule.Steps);
        }
        return x;
    }

    Tensor FreshNoise(Tensor x)
    {
        var noise = _freshNoise(x);
        if (!noise.shape.SequenceEqual(x.shape) || !noise.is_floating_point())
            throw new TurboException(
                $"rCM sampler: fresh noise must be floating-point of the sample's shape [{string.Join(", ", x.shape)}], found {noise.dtype} [{string.Join(", ", noise.shape)}]");
        return noise.to(ScalarType.Float32, x.device);
    }
}
