using TorchSharp.Modules;
using Turbo.Runtime.Native;
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
/// With kind Sla (the reference, and what fine-tuning trains) both branches run in float32 (float64 for float64 input,
/// for gradient checks) whatever the input dtype, and are differentiable: gradients reach q, k, v (not through the
/// selection, which is discrete) and proj_l. The sparse branch is a masked dense computation here (the reference).
/// With <see cref="AttentionKind.SageSla"/> it is the quantized Sage attention over the kept blocks instead
/// (<see cref="NativeSageAttention"/>: the block-sparse CUDA kernel on the GPU, the reference elsewhere), the linear
/// branch has proj_l folded in (<see cref="FoldedLinearBranch"/>: fused kernels on the GPU), and the module is
/// forward-only.
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
        Tensor sparse;
        KeySide? keySide = null;
        if (quantizedSparse is not null && NativeSageAttention.RunsNative(q) && SageKernels.CanSelect(k.shape[2], BlockK))
        {
            // The linear branch's key side reads every key and value: first, so that its pass also gives the Sage
            // preparation K's mean (and V's scales for E4M3 P·V), which would otherwise take more passes over k and v.
            var stats = quantizedSparse.Reference.PvPrecision == PvPrecision.Fp8E4M3
                ? KeySideStats.KeyMeanAndValueScales : KeySideStats.KeyMean;
            if (LinearKernelsRun(q, k, v, q.dtype))
                using (CudaProfiler.Scope("self-attention/linear branch"))
                using (CudaProfiler.Scope("self-attention/linear branch: key sums"))
                    keySide = SlaLinearKernels.KeySums(k, v, keyLengths, stats);
            // The kernels select the blocks themselves, from the blocks their quantizer pools: no passes of its own.
            sparse = quantizedSparse.AttendNative(q, k, v, keyLengths, KeyBlocks.Selected(TopK),
                keyMean: keySide?.KeyMean, valueScales: keySide?.ValueScales);
        }
        else
        {
            Tensor blockMap;
            using (CudaProfiler.Scope("self-attention/selection"))
                blockMap = BlockSelection.Select(q, k, TopK, BlockQ, BlockK, keyLengths);
            if (quantizedSparse is null)
                using (CudaProfiler.Scope("self-attention/sparse reference"))
                    sparse = BlockSparseSoftmax(q.to(work), k.to(work), v.to(work), blockMap, BlockQ, BlockK, keyLengths);
            else sparse = quantizedSparse.Attend(q, k, v, keyLengths, blockMap);
        }
        using var linearScope = CudaProfiler.Scope("self-attention/linear branch");
        if (quantizedSparse is not null)
            return FoldedLinearBranch(q, k, v, keyLengths, proj_l.weight!, proj_l.bias!, sparse, keySide).MoveToOuterDisposeScope();
        var linear = LinearAttention(q.to(work), k.to(work), v.to(work), keyLengths);
        var projected = nn.functional.linear(linear, proj_l.weight!.to(work), proj_l.bias!.to(work));
        return (sparse.to(work) + projected).to(q.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>Scores (batch × heads × query rows × keys) one chunk of the masked dense computation holds: 512 MiB in float32.</summary>
    public const long DefaultChunkScores = 1L << 27;

    /// <summary>
    /// Exact softmax attention over the kept blocks' keys: a masked dense computation, a chunk of query blocks at a time
    /// so that memory stays bounded at long lengths (at most about <paramref name="chunkScores"/> scores at once,
    /// never less than one query block); the chunks' results are those of the whole computation, row by row.
    /// </summary>
    public static Tensor BlockSparseSoftmax(Tensor q, Tensor k, Tensor v, Tensor blockMap, int blockQ, int blockK, Tensor? keyLengths,
        long chunkScores = DefaultChunkScores)
    {
        using var scope = NewDisposeScope();
        var (queries, keys) = (q.shape[2], k.shape[2]);
        long scoresPerQueryBlock = q.shape[0] * q.shape[1] * keys * blockQ;
        long rowsPerChunk = Math.Max(1, chunkScores / scoresPerQueryBlock) * blockQ;
        var keyMask = keyLengths is null ? null : AttentionInputs.KeyMask(keyLengths, keys, q.device);
        double scale = 1.0 / Math.Sqrt(q.shape[3]);
        var chunks = new List<Tensor>();
        for (long start = 0; start < queries; start += rowsPerChunk)
        {
            using var chunkScope = NewDisposeScope();   // frees each chunk's scores before the next (autograd keeps what it needs)
            long rows = Math.Min(rowsPerChunk, queries - start);
            var map = blockMap.narrow(2, start / blockQ, (rows + blockQ - 1) / blockQ);
            var kept = BlockSelection.PerToken(map, blockQ, blockK, rows, keys);
            if (keyMask is not null) kept = kept.logical_and(keyMask);
            var scores = q.narrow(2, start, rows).matmul(k.transpose(-1, -2)) * scale;
            var weights = scores.masked_fill(kept.logical_not(), double.NegativeInfinity).softmax(-1);
            chunks.Add(weights.matmul(v).MoveToOuterDisposeScope());
        }
        return (chunks.Count == 1 ? chunks[0] : cat(chunks, 2)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// SageSLA's linear branch added to its sparse output: the same function as <see cref="LinearAttention"/> followed
    /// by proj_l, computed for speed (the package's forward pass) rather than as the formula reads. proj_l is linear
    /// and the normaliser a scalar per row, so proj_l(φ(q)KV / n) = φ(q)(KV·Wᵀ) / n + b: one matrix per head,
    /// F = [KV·Wᵀ | Σφ(k)], gives numerator and normaliser in one product over the tokens, and no pass applies proj_l.
    /// φ(q), φ(k) and F are rounded to the input's dtype; the products and sums are float32 and the result is rounded
    /// once, to the input's dtype. On the GPU the key side, the fold and the query side are the kernels of
    /// <see cref="SlaLinearKernels"/> (unless <see cref="NativeSageAttention.Enabled"/> is off); these torch ops are
    /// their reference, and a test compares them with the float32 formula. <paramref name="keySide"/>: the key side's
    /// sums where the caller has made them already (<see cref="SlaLinearKernels.KeySums"/> of these k, v and lengths,
    /// before the sparse branch's kernels), used only where the kernels run; the fold then overlaps the last of them.
    /// </summary>
    public static Tensor FoldedLinearBranch(Tensor q, Tensor k, Tensor v, Tensor? keyLengths, Tensor weight, Tensor bias, Tensor sparse,
        KeySide? keySide = null)
    {
        using var scope = NewDisposeScope();
        var dtype = q.dtype;
        long dim = q.shape[3];
        bool native = LinearKernelsRun(q, k, v, sparse.dtype);
        if (native)
        {
            var side = keySide;
            if (side is null)
                using (CudaProfiler.Scope("self-attention/linear branch: key sums"))
                    side = SlaLinearKernels.KeySums(k, v, keyLengths);
            Tensor folded;
            using (CudaProfiler.Scope("self-attention/linear branch: fold"))
                folded = SlaLinearKernels.Fold(side.Value, weight, overlapPrevious: keySide is not null);
            using (CudaProfiler.Scope("self-attention/linear branch: query side"))
                return SlaLinearKernels.AddLinear(q, folded, bias, sparse).MoveToOuterDisposeScope();
        }
        var phiK = k.softmax(-1);
        if (keyLengths is not null)
            phiK = phiK * AttentionInputs.KeyMask(keyLengths, k.shape[2], k.device).view(k.shape[0], 1, k.shape[2], 1).to(dtype);
        var phiK32 = phiK.to(ScalarType.Float32);
        var keyValue = phiK32.transpose(-1, -2).matmul(v.to(ScalarType.Float32));                    // float32 [B, H, D, D]
        var keySum = phiK32.sum(-2);                                                                 // float32 [B, H, D]
        // Fᵀ = [W·KVᵀ; Σφ(k); 0 …]: rows are F's columns, D + 16 of them so that the kernel's tiles of 16 cover them.
        var padding = zeros([q.shape[0], q.shape[1], SlaLinearKernels.FoldedRows(dim) - dim - 1, dim], ScalarType.Float32, q.device);
        var foldedT = cat([weight.to(ScalarType.Float32).matmul(keyValue.transpose(-1, -2)), keySum.unsqueeze(-2), padding], -2).to(dtype);
        var product = q.softmax(-1).to(ScalarType.Float32).matmul(foldedT.to(ScalarType.Float32).transpose(-1, -2)); // [B, H, L, D + 16]
        var numerator = product.narrow(-1, 0, dim);
        var normaliser = product.narrow(-1, dim, 1) + LinearEps;
        return sparse.to(ScalarType.Float32).add(bias.to(ScalarType.Float32)).add(numerator / normaliser).to(dtype).MoveToOuterDisposeScope();
    }

    /// <summary>True where <see cref="FoldedLinearBranch"/> runs the kernels of <see cref="SlaLinearKernels"/> (k, v and the sparse output of q's dtype).</summary>
    static bool LinearKernelsRun(Tensor q, Tensor k, Tensor v, ScalarType sparseDtype) =>
        NativeSageAttention.Enabled && SlaLinearKernels.Supports(q) && k.dtype == q.dtype && v.dtype == q.dtype && sparseDtype == q.dtype;

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
