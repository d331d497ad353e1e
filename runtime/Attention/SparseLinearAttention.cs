using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Turbo.Runtime.Attention;

/// <summary>
/// Sparse-linear attention (SLA, the TurboDiffusion "main" formulation of <c>SLA/core.py</c>), per (batch, head):
/// <code>
///   O = O_sparse + proj_l(O_linear)
///   O_sparse = softmax(q·kᵀ/√D) v restricted to the key blocks <see cref="BlockSelection"/> keeps for each query block
///   O_linear = φ(q)(φ(k)ᵀv) / (1e−5 + φ(q)·Σⱼφ(kⱼ)),  φ = softmax over head_dim, over ALL keys
/// </code>
/// The linear branch sees every key, not only the dropped ones as in the paper's fused kernel; φ uses the raw k
/// (smoothing is only for choosing blocks); the 1e−5 is upstream's guard. proj_l is a head_dim × head_dim Linear
/// shared by all heads, float32, zero-initialised (so a fresh SLA is pure block-sparse attention), registered as
/// <c>proj_l.weight</c> / <c>proj_l.bias</c>. It is a plain Linear on purpose: it stays in high precision when the
/// model's own Linear layers are quantized.
/// <para>
/// Both branches run in float32 (float64 for float64 input, for gradient checks) whatever the input dtype, and are
/// differentiable: gradients reach q, k, v (not through the selection, which is discrete) and proj_l. The sparse
/// branch is a masked dense computation here (the reference); with <see cref="AttentionKind.SageSla"/> it is the
/// quantized Sage attention over the kept blocks instead (<see cref="NativeSageAttention"/>: the block-sparse CUDA
/// kernel on the GPU, the reference elsewhere), and the module is forward-only.
/// </para>
/// </summary>
public sealed class SparseLinearAttention : nn.Module, IAttentionBackend
{
    const double LinearEps = 1e-5;

    readonly Linear proj_l;
    readonly NativeSageAttention? quantizedSparse;

    public int HeadDim { get; }
    public double TopK { get; }
    public int BlockQ { get; }
    public int BlockK { get; }

    /// <param name="config">kind Sla or SageSla, with its top-k ratio and block sizes</param>
    public SparseLinearAttention(int headDim, AttentionConfig config, Device? device = null) : base(nameof(SparseLinearAttention))
    {
        if (!config.IsSparseLinear)
            throw new TurboException($"sparse-linear attention: expected kind Sla or SageSla, found {config.Kind}");
        config.Validate(headDim);
        (HeadDim, TopK, BlockQ, BlockK) = (headDim, config.TopK, config.BlockQ, config.BlockK);
        if (config.Kind == AttentionKind.SageSla) quantizedSparse = new NativeSageAttention(BlockQ, BlockK, config.PvPrecision);

        proj_l = nn.Linear(headDim, headDim, hasBias: true, device: device, dtype: ScalarType.Float32);
        using (no_grad())
        {
            proj_l.weight!.zero_();
            proj_l.bias!.zero_();
        }
        register_module(nameof(proj_l), proj_l);
    }

    public Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? keyLengths = null)
    {
        AttentionInputs.Validate(q, k, v, keyLengths);
        if (q.shape[3] != HeadDim)
            throw new TurboException($"sparse-linear attention: expected head dim {HeadDim}, found {q.shape[3]}");
        using var scope = NewDisposeScope();
        var work = q.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var blockMap = BlockSelection.Select(q, k, TopK, BlockQ, BlockK, keyLengths);
        var sparse = quantizedSparse is null
            ? BlockSparseSoftmax(q.to(work), k.to(work), v.to(work), blockMap, keyLengths)
            : quantizedSparse.Attend(q, k, v, keyLengths, blockMap).to(work);
        var linear = LinearAttention(q.to(work), k.to(work), v.to(work), keyLengths);
        var projected = nn.functional.linear(linear, proj_l.weight!.to(work), proj_l.bias!.to(work));
        return (sparse + projected).to(q.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>Exact softmax attention over the kept blocks' keys (a masked dense computation).</summary>
    Tensor BlockSparseSoftmax(Tensor q, Tensor k, Tensor v, Tensor blockMap, Tensor? keyLengths)
    {
        using var scope = NewDisposeScope();
        var (queries, keys) = (q.shape[2], k.shape[2]);
        var kept = BlockSelection.PerToken(blockMap, BlockQ, BlockK, queries, keys);
        if (keyLengths is not null) kept = kept.logical_and(AttentionInputs.KeyMask(keyLengths, keys, q.device));
        var scores = q.matmul(k.transpose(-1, -2)) * (1.0 / Math.Sqrt(q.shape[3]));
        var weights = scores.masked_fill(kept.logical_not(), double.NegativeInfinity).softmax(-1);
        return weights.matmul(v).MoveToOuterDisposeScope();
    }

    /// <summary>φ(q)(φ(k)ᵀv) / (1e−5 + φ(q)·Σφ(k)) with φ = softmax over head_dim; keys past the lengths left out.</summary>
    static Tensor LinearAttention(Tensor q, Tensor k, Tensor v, Tensor? keyLengths)
    {
        using var scope = NewDisposeScope();
        var phiQ = q.softmax(-1);
        var phiK = k.softmax(-1);
        if (keyLengths is not null)
            phiK = phiK * AttentionInputs.KeyMask(keyLengths, k.shape[2], k.device).view(k.shape[0], 1, k.shape[2], 1).to(phiK.dtype);
        var keyValue = phiK.transpose(-1, -2).matmul(v);                                   // [B, H, D, D]
        var keySum = phiK.sum([-2L], keepdim: true);                                       // [B, H, 1, D]
        var normaliser = (phiQ * keySum).sum([-1L], keepdim: true) + LinearEps;
        return (phiQ.matmul(keyValue) / normaliser).MoveToOuterDisposeScope();
    }
}
