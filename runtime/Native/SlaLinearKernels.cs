using TorchSharp;
using static TorchSharp.torch;

namespace Turbo.Runtime.Native;

/// <summary>
/// SLA's linear branch on the GPU (sla_linear.cu): the key side's per-head sums φ(k)ᵀv and Σφ(k), proj_l folded into F
/// from them, and the query side's φ(q)·F added to the sparse output, one kernel each (the key and query sides over the
/// token tensors). <c>SparseLinearAttention.FoldedLinearBranch</c> calls them; its torch ops are their reference. Token
/// tensors are [B, H, L, D] bfloat16 or float16 CUDA tensors with D = 64 or 128 (<see cref="Supports"/>).
/// </summary>
public static class SlaLinearKernels
{
    /// <summary>Rows of the folded matrix Fᵀ the query kernel reads: D columns of KV·Wᵀ, Σφ(k), zeros to a multiple of 16.</summary>
    public static long FoldedRows(long headDim) => headDim + 16;

    /// <summary>True where the kernels take these inputs (the library has them, CUDA, 16-bit, head dim 64 or 128).</summary>
    public static bool Supports(Tensor q) =>
        TurboNative.HasSlaLinearKernels && q.device_type == DeviceType.CUDA &&
        q.dtype is ScalarType.BFloat16 or ScalarType.Float16 && q.dim() == 4 && q.shape[3] is 64 or 128;

    /// <summary>
    /// Per (b, h), over the tokens below the key lengths: KV = φ(k)ᵀ·v and Σφ(k), φ = softmax over D rounded to k's
    /// dtype; k and v of one dtype and shape. The tokens are summed in splits whose size the library chooses to fill the
    /// device, and the sums are given per split (<see cref="Fold"/> adds them). With <paramref name="stats"/>, the same
    /// pass also gives K's mean (and V's E4M3 scales), float32 [B, H, D], equal to <see cref="SageKernels.TokenMean"/>
    /// (and <see cref="SageKernels.E4M3Scales"/>): the Sage preparation then reads k and v no more for them. The buffer
    /// <see cref="Fold"/> writes is allocated here too, before any kernel that follows (see <see cref="Fold"/>).
    /// </summary>
    public static KeySide KeySums(Tensor k, Tensor v, Tensor? keyLengths, KeySideStats stats = KeySideStats.None)
    {
        using var scope = NewDisposeScope();
        var (key, value) = (Aligned(k), Aligned(v));
        var (batch, heads, length, dim) = (key.shape[0], key.shape[1], key.shape[2], (int)key.shape[3]);
        long tokensPerSplit = TurboNative.turbo_sla_key_tokens_per_split(batch, heads, length, dim);
        if (tokensPerSplit <= 0) TurboNative.Check(-1);
        long splits = (length + tokensPerSplit - 1) / tokensPerSplit;
        bool withMean = stats != KeySideStats.None, withScales = stats == KeySideStats.KeyMeanAndValueScales;
        var kvPartial = empty([splits, batch, heads, dim, dim], ScalarType.Float32, k.device);
        var sumPartial = empty([splits, batch, heads, dim], ScalarType.Float32, k.device);
        var statsPartial = withMean ? empty([withScales ? 2 : 1, batch * heads, splits, dim], ScalarType.Float64, k.device) : null;
        var mean = withMean ? empty([batch, heads, dim], ScalarType.Float32, k.device) : null;
        var scales = withScales ? empty([batch, heads, dim], ScalarType.Float32, k.device) : null;
        var folded = empty([batch, heads, FoldedRows(dim), dim], k.dtype, k.device);
        var lengths = keyLengths?.to(ScalarType.Int32, k.device).contiguous();
        TurboNative.Check(TurboNative.turbo_sla_key_sums(TurboNative.StridedPtr(key), Strides(key), TurboNative.StridedPtr(value),
            Strides(value), TurboNative.DType(key), TurboNative.PtrOrNull(lengths), batch, heads, length, dim, tokensPerSplit,
            TurboNative.Ptr(kvPartial), TurboNative.Ptr(sumPartial), TurboNative.PtrOrNull(statsPartial), TurboNative.PtrOrNull(mean),
            TurboNative.PtrOrNull(scales), IntPtr.Zero));
        return new KeySide(kvPartial.MoveToOuterDisposeScope(), sumPartial.MoveToOuterDisposeScope(),
            mean?.MoveToOuterDisposeScope(), scales?.MoveToOuterDisposeScope(), folded.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Fᵀ for <see cref="AddLinear"/>: [W·KVᵀ; Σφ(k); 0 …], [B, H, <see cref="FoldedRows"/>, D] of k's dtype, from the
    /// key side's split sums (added in split order) and proj_l's weight W ([D, D]); float32 products, each value rounded
    /// once. Written into the key side's <see cref="KeySide.Folded"/> (the result is a view of it).
    /// <paramref name="overlapPrevious"/>: the fold may run while the kernel before it on the stream finishes (SageSLA's
    /// sparse kernel, whose last wave leaves most of the GPU idle). Only for a key side summed before that kernel was
    /// launched: that kernel then writes nothing the fold reads, and the fold writes nothing that kernel reads, since
    /// its output was allocated with the key side (memory freed after that launch could be handed to a buffer made
    /// now, while the kernel still reads it).
    /// </summary>
    public static Tensor Fold(KeySide side, Tensor weight, bool overlapPrevious = false)
    {
        using var scope = NewDisposeScope();
        var (splits, batch, heads, dim) = (side.KeyValueSplits.shape[0], side.KeyValueSplits.shape[1], side.KeyValueSplits.shape[2],
            side.KeyValueSplits.shape[3]);
        if (weight.dim() != 2 || weight.shape[0] != dim || weight.shape[1] != dim)
            throw new TurboException($"SLA fold: expected proj_l's weight of shape [{dim}, {dim}], found [{string.Join(", ", weight.shape)}]");
        var device = side.KeyValueSplits.device;
        bool weightAsIs = weight.dtype == ScalarType.Float32 && weight.device_type == device.type &&
                          weight.device_index == device.index && weight.is_contiguous();
        var w = weightAsIs ? weight : weight.to(ScalarType.Float32, device).contiguous();
        var foldedT = side.Folded.alias();
        // A converted W is written by the kernel just before the fold, which must then wait for it.
        bool overlap = overlapPrevious && weightAsIs;
        TurboNative.Check(TurboNative.turbo_sla_fold(TurboNative.Ptr(side.KeyValueSplits), TurboNative.Ptr(side.KeySumSplits), splits,
            TurboNative.Ptr(w), TurboNative.DType(foldedT), batch * heads, (int)dim, TurboNative.Ptr(foldedT), overlap ? 1 : 0,
            IntPtr.Zero));
        return foldedT.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// sparse + bias + num / (den + 1e-5), [num | den] = φ(q)·F in float32, rounded once to q's dtype, written over
    /// <paramref name="sparse"/> (returned; same dtype and shape as q). foldedT: [B, H, <see cref="FoldedRows"/>, D] of
    /// q's dtype; bias: [D].
    /// </summary>
    public static Tensor AddLinear(Tensor q, Tensor foldedT, Tensor bias, Tensor sparse)
    {
        using var scope = NewDisposeScope();
        var query = Aligned(q);
        var target = Aligned(sparse);
        var (batch, heads, length, dim) = (query.shape[0], query.shape[1], query.shape[2], (int)query.shape[3]);
        var folded = foldedT.contiguous();
        var biasF = bias.to(ScalarType.Float32, q.device).contiguous();
        var strides = Strides(target);
        TurboNative.Check(TurboNative.turbo_sla_linear_out(TurboNative.StridedPtr(query), Strides(query), TurboNative.Ptr(folded),
            TurboNative.Ptr(biasF), TurboNative.StridedPtr(target), strides, TurboNative.StridedPtr(target), strides,
            TurboNative.DType(query), batch, heads, length, dim, IntPtr.Zero));
        return target.MoveToOuterDisposeScope();
    }

    /// <summary>x itself when the kernels can read it in place (channels contiguous, 16-byte aligned rows), else a contiguous copy.</summary>
    static Tensor Aligned(Tensor x)
    {
        bool inPlace = x.stride(3) == 1 && x.stride(0) % 8 == 0 && x.stride(1) % 8 == 0 && x.stride(2) % 8 == 0 &&
                       TurboNative.StridedPtr(x) % 16 == 0;
        return inPlace ? x.alias() : x.contiguous();
    }

    static long[] Strides(Tensor x) => [x.stride(0), x.stride(1), x.stride(2)];
}

/// <summary>Which statistics of k and v <see cref="SlaLinearKernels.KeySums"/> gives besides its sums.</summary>
public enum KeySideStats
{
    None,
    /// <summary>K's mean (Sage's smoothing), for BF16 and FP16 P·V.</summary>
    KeyMean,
    /// <summary>K's mean and V's E4M3 scales, for E4M3 P·V.</summary>
    KeyMeanAndValueScales,
}

/// <summary>
/// What <see cref="SlaLinearKernels.KeySums"/> gives: KV = φ(k)ᵀ·v and Σφ(k) per split of the tokens, float32
/// [splits, B, H, D, D] and [splits, B, H, D] (their sums over the splits are KV and Σφ(k)), and, as asked for, K's mean
/// and V's E4M3 scales, float32 [B, H, D] (each null otherwise); Folded, the buffer <see cref="SlaLinearKernels.Fold"/>
/// writes, [B, H, D + 16, D] of k's dtype. Its tensors belong to the caller's dispose scope.
/// </summary>
public readonly record struct KeySide(Tensor KeyValueSplits, Tensor KeySumSplits, Tensor? KeyMean, Tensor? ValueScales, Tensor Folded);
