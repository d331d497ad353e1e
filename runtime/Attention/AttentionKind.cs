namespace Turbo.Runtime.Attention;

/// <summary>Which attention a model's self-attention layers use (cross-attention is always dense).</summary>
public enum AttentionKind
{
    /// <summary>Exact softmax attention (scaled_dot_product_attention).</summary>
    Dense,
    /// <summary>SageAttention-style quantized attention: INT8 q·kᵀ with smoothed K, 16-bit (or FP8) P·V. Forward only.</summary>
    Sage,
    /// <summary>Sparse-linear attention: block-sparse softmax over the top-k key blocks plus a learned linear branch. Trainable.</summary>
    Sla,
    /// <summary>SLA whose sparse branch is the quantized Sage attention. Forward only.</summary>
    SageSla,
}

/// <summary>Precision of the P·V product in the quantized attention.</summary>
public enum PvPrecision
{
    /// <summary>P and V in FP8 E4M3: V scaled per channel to absmax 448, P scaled by a static 448 (P ≤ 1).</summary>
    Fp8E4M3,
    /// <summary>P and V in FP16 (V converted from the input's type).</summary>
    Fp16,
    /// <summary>
    /// P and V in BF16: the CUDA kernels read a bf16 V where it lies (no pass over V before the kernel), and BF16 P·V
    /// runs on the tensor cores at FP16's rate. The default: on Hopper, E4M3 P·V runs on the same 16-bit instructions
    /// (docs/attention.md), so it only adds V's passes and rounding error.
    /// </summary>
    Bf16,
}
