using static TorchSharp.torch;

namespace Turbo.Runtime.Attention;

/// <summary>
/// One way of computing non-causal multi-head attention softmax(q·kᵀ/√D)·v (or an approximation of it).
/// Every backend takes the same layout, so a model picks one from its configuration and nothing else changes.
/// </summary>
public interface IAttentionBackend
{
    /// <summary>
    /// q [B, H, Lq, D], k and v [B, H, Lk, D], all of one floating-point dtype (the model's compute dtype) on one
    /// device → [B, H, Lq, D] in that dtype. <paramref name="keyLengths"/> (integer [B], each in 1..Lk), when given,
    /// says how many leading keys of each sample take part; the keys after them are ignored, exactly as if the
    /// sample's k and v had been cut to that length.
    /// </summary>
    Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? keyLengths = null);
}
