using TorchSharp;
using static TorchSharp.torch;

namespace Turbo.Runtime.Native;

/// <summary>
/// SLA's linear branch on the GPU (sla_linear.cu): the key side's per-head sums φ(k)ᵀv and Σφ(k), and the query side's
/// φ(q)·F added to the sparse output, each one kernel over the token tensors. The caller
/// (<c>SparseLinearAttention.FoldedLinearBranch</c>, whose torch ops are the reference) folds proj_l into F between the
/// two. Token tensors are [B, H, L, D] bfloat16 or float16 CUDA tensors with D = 64 or 128 (<see cref="Supports"/>).
/// </summary>
public static class SlaLinearKernels
{
    /// <summary>
    /// Tokens one block of the key kernel sums: 1,024 gives 384 blocks at Wan2.1-1.3B's 12 heads × 32,760 tokens and
    /// 2,960 at 14B's 40 × 75,600 (two run per SM). Splitting finer, into about 1,024 blocks at the 1.3B shape, measured
    /// no faster: every block also writes a D × D partial sum that is read again (docs/PERF.md).
    /// </summary>
    public const long TokensPerSplit = 1024;

    /// <summary>Rows of the folded matrix Fᵀ the query kernel reads: D columns of KV·Wᵀ, Σφ(k), zeros to a multiple of 16.</summary>
    public static long FoldedRows(long headDim) => headDim + 16;

    /// <summary>True where the kernels take these inputs (the library has them, CUDA, 16-bit, head dim 64 or 128).</summary>
    public static bool Supports(Tensor q) =>
        TurboNative.HasSlaLinearKernels && q.device_type == DeviceType.CUDA &&
        q.dtype is ScalarType.BFloat16 or ScalarType.Float16 && q.dim() == 4 && q.shape[3] is 64 or 128;

    /// <summary>
    /// Per (b, h), over the tokens below the key lengths: KV = φ(k)ᵀ·v and Σφ(k), float32 [B, H, D, D] and [B, H, D],
    /// φ = softmax over D rounded to k's dtype; k and v of one dtype and shape. With <paramref name="withStats"/> (where
    /// <see cref="TurboNative.HasKeySideStats"/>), the same pass also gives K's mean and V's E4M3 scales, float32
    /// [B, H, D], equal to <see cref="SageKernels.TokenMean"/> and <see cref="SageKernels.E4M3Scales"/>: the Sage
    /// preparation then reads k and v no more for them.
    /// </summary>
    public static KeySide KeySums(Tensor k, Tensor v, Tensor? keyLengths, bool withStats = false)
    {
        if (withStats && !TurboNative.HasKeySideStats)
            throw new TurboException("SLA key sums: the native library is too old to give the statistics of k and v: " + TurboNative.Describe());
        using var scope = NewDisposeScope();
        var (key, value) = (Aligned(k), Aligned(v));
        var (batch, heads, length, dim) = (key.shape[0], key.shape[1], key.shape[2], (int)key.shape[3]);
        long splits = (length + TokensPerSplit - 1) / TokensPerSplit;
        var kvPartial = empty([splits, batch, heads, dim, dim], ScalarType.Float32, k.device);
        var sumPartial = empty([splits, batch, heads, dim], ScalarType.Float32, k.device);
        var statsPartial = withStats ? empty([2, batch * heads, splits, dim], ScalarType.Float64, k.device) : null;
        var mean = withStats ? empty([batch, heads, dim], ScalarType.Float32, k.device) : null;
        var scales = withStats ? empty([batch, heads, dim], ScalarType.Float32, k.device) : null;
        var lengths = keyLengths?.to(ScalarType.Int32, k.device).contiguous();
        TurboNative.Check(TurboNative.turbo_sla_key_sums(TurboNative.StridedPtr(key), Strides(key), TurboNative.StridedPtr(value),
            Strides(value), TurboNative.DType(key), TurboNative.PtrOrNull(lengths), batch, heads, length, dim, TokensPerSplit,
            TurboNative.Ptr(kvPartial), TurboNative.Ptr(sumPartial), TurboNative.PtrOrNull(statsPartial), TurboNative.PtrOrNull(mean),
            TurboNative.PtrOrNull(scales), IntPtr.Zero));
        return new KeySide(kvPartial.sum([0L]).MoveToOuterDisposeScope(), sumPartial.sum([0L]).MoveToOuterDisposeScope(),
            mean?.MoveToOuterDisposeScope(), scales?.MoveToOuterDisposeScope());
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

/// <summary>
/// What <see cref="SlaLinearKernels.KeySums"/> gives: KV = φ(k)ᵀ·v and Σφ(k), float32 [B, H, D, D] and [B, H, D], and,
/// when asked for, K's mean and V's E4M3 scales, float32 [B, H, D] (null otherwise). Its tensors belong to the
/// caller's dispose scope.
/// </summary>
public readonly record struct KeySide(Tensor KeyValue, Tensor KeySum, Tensor? KeyMean, Tensor? ValueScales);
