using Turbo.Converter.Families.Wan;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;

namespace Turbo.Converter.Synth;

/// <summary>
/// Every tensor of a synthetic text-to-video folder, per weights component, known before anything is written. The
/// transformer is what plain synth writes for the request, under diffusers' names; the text encoder is stored in the
/// request's dtype too (its loader converts it), the VAE in float32 as Wan2.1 releases and runs it.
/// </summary>
public sealed record SynthPipelineLayout(IReadOnlyList<SynthTensor> TextEncoder, IReadOnlyList<SynthTensor> Vae, IReadOnlyList<SynthTensor> Transformer)
{
    /// <summary>Random streams of the first tensor of the text encoder and the VAE (<see cref="SynthTensorSource"/>): far
    /// from the transformer's, which start at 0 as in plain synth, so that one seed gives each part its own numbers.</summary>
    public const ulong TextEncoderStreams = 1UL << 32, VaeStreams = 2UL << 32;

    public static SynthPipelineLayout For(SynthPipelinePreset parts, WanConfig transformer, SafetensorsDType dtype) => new(
        ModuleLayout.Umt5(parts.TextEncoder, dtype),
        ModuleLayout.Vae(parts.Vae, SafetensorsDType.F32),
        SynthLayout.For(transformer, WanNaming.Diffusers, dtype));

    public IEnumerable<SynthTensor> All => TextEncoder.Concat(Vae).Concat(Transformer);
}
