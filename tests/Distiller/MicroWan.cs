using Turbo.Distiller.Training;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Tests.Distiller;

/// <summary>Micro Wan DiTs for the distillation tests: dim 32, two heads of 16, latents of 4 channels (seconds on a CPU).</summary>
static class MicroWan
{
    public static readonly WanConfig Config = new()
    {
        Dim = 32, FfnDim = 64, NumHeads = 2, NumLayers = 1, InDim = 4, OutDim = 4, TextDim = 8, TextLen = 4, FreqDim = 16,
    };

    /// <summary>Latents [B, 4, 1, 4, 4]: four tokens with 1×2×2 patches.</summary>
    public static readonly long[] Latent = [4, 1, 4, 4];

    /// <summary>
    /// Initialised as for training, then every weight nudged at random (so the head is not zero and two seeds give
    /// two different functions).
    /// </summary>
    public static WanModel New(long seed, ScalarType dtype = ScalarType.Float32, WanConfig? config = null)
    {
        var model = new WanModel(config ?? Config, dtype);
        Initializers.Wan(model, seed);
        using var generator = new Generator((ulong)(seed + 100));
        using (no_grad())
            foreach (var p in model.parameters())
                p.add_(randn(p.shape, dtype: p.dtype, generator: generator) * 0.05);
        return model;
    }

    /// <summary>A copy of <paramref name="source"/>'s weights in a new model of the same config and dtype.</summary>
    public static WanModel Copy(WanModel source)
    {
        var model = new WanModel(source.Config, source.ComputeDtype);
        model.LoadWeights(source.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter));
        return model;
    }
}
