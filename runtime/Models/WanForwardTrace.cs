using static TorchSharp.torch;

namespace Turbo.Runtime.Models;

/// <summary>
/// Copies of a forward pass's intermediates, for parity tests and debugging (names as in the golden files).
/// The caller owns the tensors and disposes them with the trace.
/// </summary>
public sealed class WanForwardTrace : IDisposable
{
    /// <summary>Conv3d output [B, D, F', H', W'] (compute dtype).</summary>
    public Tensor? PatchEmbedding { get; internal set; }
    /// <summary>Time embedding e [B, D] (float32).</summary>
    public Tensor? TimeEmbedding { get; internal set; }
    /// <summary>Time projection e0, flat [B, 6D] (float32).</summary>
    public Tensor? TimeProjection { get; internal set; }
    /// <summary>Embedded text [B, L, D] (compute dtype).</summary>
    public Tensor? ContextEmbedding { get; internal set; }
    /// <summary>Residual stream [B, L, D] after each block (float32).</summary>
    public List<Tensor> BlockOutputs { get; } = [];

    internal static Tensor Copy(Tensor t) => t.detach().clone().DetachFromDisposeScope();

    public void Dispose()
    {
        PatchEmbedding?.Dispose();
        TimeEmbedding?.Dispose();
        TimeProjection?.Dispose();
        ContextEmbedding?.Dispose();
        foreach (var t in BlockOutputs) t.Dispose();
        BlockOutputs.Clear();
    }
}
