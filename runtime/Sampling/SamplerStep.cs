using static TorchSharp.torch;

namespace Turbo.Runtime.Sampling;

/// <summary>What every sampler does around the model: checks the inputs and calls the model at one timestep.</summary>
static class SamplerStep
{
    /// <summary>A float32 working copy of the noise, owned by the caller.</summary>
    public static Tensor Start(Tensor noise)
    {
        if (!noise.is_floating_point())
            throw new TurboException($"noise: expected a floating-point tensor, found {noise.dtype}");
        if (noise.dim() < 1 || noise.shape[0] < 1)
            throw new TurboException("noise: expected a batch dimension of at least 1");
        return noise.to(ScalarType.Float32, copy: true);
    }

    /// <summary>The model's velocity at x for one timestep shared by the whole batch, as float32.</summary>
    public static Tensor Velocity(VelocityModel model, Tensor x, double timestep)
    {
        using var t = full([x.shape[0]], timestep, dtype: ScalarType.Float32, device: x.device);
        var v = model(x, t);
        if (!v.shape.SequenceEqual(x.shape))
        {
            string found = "[" + string.Join(", ", v.shape) + "]", expected = "[" + string.Join(", ", x.shape) + "]";
            v.Dispose();
            throw new TurboException($"velocity: expected shape {expected} (that of the latents), found {found}");
        }
        return v.dtype == ScalarType.Float32 ? v : v.to(ScalarType.Float32);
    }
}
