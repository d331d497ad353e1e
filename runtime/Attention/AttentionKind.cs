namespace Turbo.Runtime.Attention;

/// <summary>Which attention a model's self-attention layers use (cross-attention is always dense).</summary>
public enum AttentionKind
{
    /// <summary>Exact softmax attention (scaled_dot_product_attention).</summary>
    Dense,
    /// <summary>SageAttention-style quantized attention: INT8 q·kᵀ with smoothed K, FP8 (or FP16) P·V. Forward only.</summary>
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
    /// <summary>P and V in FP16 (the Ampere kernels).</summary>
    Fp16,
}
