using System.Text.Json.Serialization;

namespace Turbo.Runtime.Sampling;

/// <summary>Which sampler a text-to-video model runs with.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SamplerKind>))]
public enum SamplerKind
{
    /// <summary>Multistep UniPC over a shifted flow-matching grid (<see cref="UniPcSampler"/>): a diffusion model's sampler.</summary>
    UniPc,
    /// <summary>rCM's few-step consistency sampler (<see cref="RcmSampler"/>, <see cref="RcmSchedule"/>): a distilled student's.</summary>
    Rcm,
}
