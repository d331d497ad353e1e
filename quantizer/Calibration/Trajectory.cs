using Turbo.Runtime.Models;
using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Quantizer.Calibration;

/// <summary>Runs one sample through the whole sampling loop with a model (no autograd).</summary>
public static class Trajectory
{
    /// <param name="onStep">sees each model evaluation's latents, timesteps and (guided) velocity; must copy what it keeps</param>
    /// <returns>the final latents (the caller disposes them)</returns>
    public static Tensor Run(WanModel model, CalibrationSample sample, CalibrationSettings settings,
        Action<Tensor, Tensor, Tensor>? onStep = null, Action? stepDone = null)
    {
        using var noGrad = no_grad();
        var device = model.Device;
        using var noise = sample.Noise.to(device);
        using var context = sample.Context.to(device);
        using var negative = sample.NegativeContext?.to(device) ?? zeros_like(context);
        var guided = ClassifierFreeGuidance.Guided((x, t, c) => model.Forward(x, t, c), context, negative, settings.Guidance);
        VelocityModel velocity = onStep is null ? guided : (x, t) =>
        {
            var v = guided(x, t);
            onStep(x, t, v);
            return v;
        };
        // every sample draws the same fresh-noise sequence: a calibration run does not depend on the global generator
        using var generator = new Generator(settings.Seed);
        var sampler = settings.CreateSampler(x => randn(x.shape, generator: generator).to(x.device));
        return sampler.Sample(velocity, noise, settings.Schedule, (_, _) => stepDone?.Invoke());
    }
}
