using static TorchSharp.torch;

namespace Turbo.Runtime.Attention;

/// <summary>
/// Exact attention: scaled_dot_product_attention (flash/memory-efficient kernels on CUDA), scale 1/√D.
/// Inside an <see cref="ExplicitMath"/> scope it is computed by <see cref="Explicit"/> instead, from plain tensor
/// operations: libtorch's fused attention kernels have no second derivative (a double backward through them aborts
/// the process), and a tangent computed by double backward needs one.
/// </summary>
public sealed class DenseAttention : IAttentionBackend
{
    [ThreadStatic] static int t_explicitScopes;

    public Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? keyLengths = null)
    {
        AttentionInputs.Validate(q, k, v, keyLengths);
        if (t_explicitScopes > 0) return Explicit(q, k, v, keyLengths);
        if (keyLengths is null) return nn.functional.scaled_dot_product_attention(q, k, v);
        using var mask = AttentionInputs.KeyMask(keyLengths, k.shape[2], q.device);
        return nn.functional.scaled_dot_product_attention(q, k, v, mask);
    }

    /// <summary>
    /// softmax(q·kᵀ/√D)·v written out (the keys past <paramref name="keyLengths"/> masked), in the input dtype:
    /// differentiable any number of times, and the reference the fused kernel is compared with. Memory grows with
    /// Lq·Lk per head.
    /// </summary>
    public static Tensor Explicit(Tensor q, Tensor k, Tensor v, Tensor? keyLengths = null)
    {
        AttentionInputs.Validate(q, k, v, keyLengths);
        using var scope = NewDisposeScope();
        var scores = PerHeadProduct(q, k.transpose(-1, -2)) * (1.0 / Math.Sqrt(q.shape[3]));
        if (keyLengths is not null)
            scores = scores.masked_fill(AttentionInputs.KeyMask(keyLengths, k.shape[2], q.device).logical_not(), double.NegativeInfinity);
        return PerHeadProduct(scores.softmax(-1), v).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// a·b of [B, H, M, K] and [B, H, K, N] by bmm, which is what matmul does with them: TorchSharp 0.107 lets an error
    /// inside matmul (such as running out of memory, what this form does first at long sequences) abort the process,
    /// while bmm's becomes an exception.
    /// </summary>
    static Tensor PerHeadProduct(Tensor a, Tensor b) => a.flatten(0, 1).bmm(b.flatten(0, 1)).unflatten(0, a.shape[0], a.shape[1]);

    /// <summary>
    /// Until disposed, dense attention on this thread is computed by <see cref="Explicit"/> (twice differentiable).
    /// Scopes nest.
    /// </summary>
    public static IDisposable ExplicitMath()
    {
        t_explicitScopes++;
        return new ScopeEnd();
    }

    sealed class ScopeEnd : IDisposable
    {
        bool _ended;

        public void Dispose()
        {
            if (_ended) return;
            _ended = true;
            t_explicitScopes--;
        }
    }
}
