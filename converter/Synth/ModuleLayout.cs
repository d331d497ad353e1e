using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Converter.Synth;

/// <summary>
/// The synthetic layout of a runtime model (the UMT5 text encoder, the Wan VAE): the names and shapes of its own
/// parameters — exactly what its loader asks for — read from the model built on the meta device, which allocates
/// nothing. Values follow <see cref="SynthLayout"/>'s distribution: norm gains 1 + N(0, 0.05²), the rest N(0, 0.05²).
/// </summary>
public static class ModuleLayout
{
    static readonly Device Meta = new(TorchSharp.DeviceType.META);

    public static IReadOnlyList<SynthTensor> Umt5(Umt5Config config, SafetensorsDType dtype)
    {
        using var encoder = new Umt5Encoder(config, ScalarType.Float32, Meta);
        return Of(encoder, dtype);
    }

    public static IReadOnlyList<SynthTensor> Vae(WanVaeConfig config, SafetensorsDType dtype)
    {
        using var vae = new WanVae(config, Meta);
        return Of(vae, dtype);
    }

    static IReadOnlyList<SynthTensor> Of(nn.Module model, SafetensorsDType dtype) =>
        model.named_parameters()
            .Select(p => new SynthTensor(p.name, dtype, p.parameter.shape, Mean: IsNormGain(p.name) ? 1.0 : 0.0, Std: SynthLayout.WeightStd))
            .ToArray();

    /// <summary>The VAE's RMS-norm gains are named gamma, UMT5's layer_norm.weight and final_layer_norm.weight.</summary>
    static bool IsNormGain(string name) => name.EndsWith(".gamma", StringComparison.Ordinal) || name.EndsWith("layer_norm.weight", StringComparison.Ordinal);
}
