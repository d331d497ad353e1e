using static TorchSharp.torch;

namespace Turbo.Distiller.Data;

/// <summary>The teacher as the sample stage sees it: its prompt encoding and its own sampler.</summary>
public interface ITeacherSampler
{
    /// <summary>Prompt embeddings [n, L, TextDim], as the teacher's pipeline feeds its model (the empty prompt included).</summary>
    Tensor EncodePrompts(IReadOnlyList<string> prompts);

    /// <summary>
    /// The final latents [n, C, F, H, W] of the teacher's own sampler (e.g. 50 UniPC steps with CFG), sample i starting
    /// from the noise of (<paramref name="seed"/>, <paramref name="firstIndex"/> + i) whatever batch it is drawn in.
    /// </summary>
    Tensor SampleLatents(IReadOnlyList<string> prompts, long seed, long firstIndex);

    /// <summary>What identifies the sampling (sampler, steps, guidance, shift, size): recorded with the samples, so a
    /// resumed stage only continues the same sampling.</summary>
    string Description { get; }
}
