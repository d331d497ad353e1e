using static TorchSharp.torch;

namespace Turbo.Runtime.Attention;

/// <summary>Exact attention: scaled_dot_product_attention (flash/memory-efficient kernels on CUDA), scale 1/√D.</summary>
public sealed class DenseAttention : IAttentionBackend
{
    public Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? keyLengths = null)
    {
        AttentionInputs.Validate(q, k, v, keyLengths);
        if (keyLengths is null) return nn.functional.scaled_dot_product_attention(q, k, v);
        using var mask = AttentionInputs.KeyMask(keyLengths, k.shape[2], q.device);
        return nn.functional.scaled_dot_product_attention(q, k, v, mask);
    }
}
