using Turbo.Runtime.Attention;
using static TorchSharp.torch;

namespace Turbo.Runtime.Native;

/// <summary>
/// Which kernel computes Sage attention (turbo_native.h, turbo_sage_kernel). Both compute the same function and differ
/// only in the order of float32 sums: <see cref="Wgmma"/>, Hopper's warpgroup instructions, for head dim 128 with
/// 128×64 blocks; <see cref="Mma"/>, warp mma.sync, for every shape on sm_80 and newer; <see cref="Auto"/> takes the
/// first that can run.
/// </summary>
public enum SageKernel { Auto = 0, Mma = 1, Wgmma = 2 }

/// <summary>
/// The quantized-attention kernels of the bundled library (attention_prep.cu, block_indices.cu, sage_attention.cu)
/// on CUDA tensors: each preparation pass alone, so that `turbo check-attention` can compare it with its TorchSharp
/// reference, and <see cref="Attend"/>, the whole pipeline. Token tensors are [B, H, L, D] with D = 64 or 128 and any
/// strides whose channel stride is 1 (others are copied first); key lengths are int32 [B] on the device. The caller
/// (<c>NativeSageAttention</c>) validates shapes, dtypes and lengths before anything here runs.
/// </summary>
public static class SageKernels
{
    /// <summary>The head dims the kernels are built for (others are zero-padded to one of them by the caller).</summary>
    public static bool IsKernelHeadDim(long headDim) => headDim is 64 or 128;

    /// <summary>The kernel head dim a head dim runs at: 64 or 128, smaller ones zero-padded up to it.</summary>
    public static long KernelHeadDim(long headDim) => headDim <= 64 ? 64 : 128;

    /// <summary>True when <see cref="SageKernel.Auto"/> takes the warpgroup kernel for this head dim and these blocks.</summary>
    public static bool AutoIsWgmma(long headDim, int blockQ, int blockK) =>
        TurboNative.HasWgmmaAttention && KernelHeadDim(headDim) == 128 && blockQ == 128 && blockK == 64;

    /// <summary>Outputs start as NaN (floats), −128 (INT8 codes, never produced) or −1 (indices), so unwritten elements show.</summary>
    public static bool PoisonOutputs { get; set; }

    /// <summary>Per (b, h, channel): the mean over each sample's valid tokens (summed in float64), float32 [B, H, D] (K smoothing).</summary>
    public static Tensor TokenMean(Tensor x, Tensor? keyLengths) => ChannelStats(x, keyLengths, TurboNative.StatMean);

    /// <summary>Per (b, h, channel): absmax·(1/448) over the valid tokens (1 where it is 0), float32 [B, H, D] (V's E4M3 scales).</summary>
    public static Tensor E4M3Scales(Tensor v, Tensor? keyLengths) => ChannelStats(v, keyLengths, TurboNative.StatE4M3Scale);

    static Tensor ChannelStats(Tensor x, Tensor? keyLengths, int mode)
    {
        using var scope = NewDisposeScope();
        var input = ChannelsContiguous(x);
        var (batch, heads, length, dim) = Dims(input);
        var partial = empty(TurboNative.turbo_channel_stats_workspace(batch, heads, length, dim), ScalarType.Float64, x.device);
        var output = NewOutput([batch, heads, dim], ScalarType.Float32, x.device);
        TurboNative.Check(TurboNative.turbo_channel_stats(TurboNative.StridedPtr(input), TurboNative.DType(input),
            Strides(input), TurboNative.PtrOrNull(keyLengths), batch, heads, length, dim, mode, TurboNative.Ptr(partial),
            TurboNative.Ptr(output), IntPtr.Zero));
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Symmetric INT8 per block of <paramref name="block"/> tokens (minus <paramref name="mean"/> [B, H, D] first, when
    /// given; tokens past the key lengths count as 0) → codes int8 [B, H, ⌈L/block⌉·block, D] (zero rows past L) and
    /// scales float32 [B, H, ⌈L/block⌉]; with <paramref name="pool"/>, also each block's mean over its valid tokens of
    /// x − mean, float32 [B, H, ⌈L/block⌉, D] (SLA's pooled blocks, <see cref="BlockSelection.Pool"/>).
    /// </summary>
    public static (Tensor Codes, Tensor Scales, Tensor? Pooled) QuantizeBlocks(Tensor x, int block, Tensor? mean = null,
        Tensor? keyLengths = null, bool pool = false)
    {
        using var scope = NewDisposeScope();
        var input = ChannelsContiguous(x);
        var (batch, heads, length, dim) = Dims(input);
        long blocks = (length + block - 1) / block;
        var codes = PoisonOutputs ? full([batch, heads, blocks * block, dim], -128, ScalarType.Int8, x.device)
                                  : empty([batch, heads, blocks * block, dim], ScalarType.Int8, x.device);
        var scales = NewOutput([batch, heads, blocks], ScalarType.Float32, x.device);
        var pooled = pool ? NewOutput([batch, heads, blocks, dim], ScalarType.Float32, x.device) : null;
        using var meanC = mean?.contiguous();
        TurboNative.Check(TurboNative.turbo_quantize_int8_blocks(TurboNative.StridedPtr(input), TurboNative.DType(input),
            Strides(input), TurboNative.PtrOrNull(meanC), TurboNative.PtrOrNull(keyLengths), batch, heads, length, dim, block,
            TurboNative.Ptr(codes), TurboNative.Ptr(scales), TurboNative.PtrOrNull(pooled), IntPtr.Zero));
        return (codes.MoveToOuterDisposeScope(), scales.MoveToOuterDisposeScope(), pooled?.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// V as the P·V operand, [B, H, ⌈L/block⌉·block, D] of <paramref name="dtype"/> (float16 or bfloat16), zero past L
    /// and the key lengths: v / scale rounded to FP8 E4M3 (held exactly in fp16) when <paramref name="e4m3Scales"/>
    /// [B, H, D] is given, else v rounded to the dtype.
    /// </summary>
    public static Tensor PrepareValues(Tensor v, int block, Tensor? keyLengths, Tensor? e4m3Scales,
        ScalarType dtype = ScalarType.Float16)
    {
        using var scope = NewDisposeScope();
        var input = ChannelsContiguous(v);
        var (batch, heads, length, dim) = Dims(input);
        var values = NewOutput([batch, heads, (length + block - 1) / block * block, dim], dtype, v.device);
        using var scales = e4m3Scales?.contiguous();
        TurboNative.Check(TurboNative.turbo_prepare_values(TurboNative.StridedPtr(input), TurboNative.DType(input),
            Strides(input), TurboNative.PtrOrNull(keyLengths), TurboNative.PtrOrNull(scales), batch, heads, length, dim, block,
            TurboNative.DType(dtype), TurboNative.Ptr(values), IntPtr.Zero));
        return values.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// True when the kernel can read <paramref name="v"/> itself as its BF16 P·V operand: bfloat16 [B, H, L, D], the
    /// channels contiguous, its first element 16-byte aligned and every stride a multiple of 8 elements (16-byte rows).
    /// </summary>
    public static bool ReadsValuesInPlace(Tensor v) =>
        v.dtype == ScalarType.BFloat16 && v.dim() == 4 && IsKernelHeadDim(v.shape[3]) && v.stride(3) == 1 &&
        TurboNative.StridedPtr(v) % 16 == 0 && Enumerable.Range(0, 3).All(d => v.stride(d) % 8 == 0);

    /// <summary>
    /// A block map (bool [B, H, nQ, nK]) → the kept key-block indices of each query block in ascending order, int32
    /// [B, H, nQ, MaxKept = nK] (slots past a row's count unspecified), and the counts, int32 [B, H, nQ].
    /// </summary>
    public static (Tensor Indices, Tensor Counts, int MaxKept) KeptBlockLists(Tensor blockMap)
    {
        using var scope = NewDisposeScope();
        var map = blockMap.contiguous();
        var (batch, heads, queryBlocks, keyBlocks) = (map.shape[0], map.shape[1], map.shape[2], map.shape[3]);
        // Each list has room for every key block: finding the widest row would wait for the GPU (a host read), and the
        // kernel reads only a row's count of entries, so the width costs memory (4 bytes per block pair), not time.
        int maxKept = (int)keyBlocks;
        var indices = PoisonOutputs ? full([batch, heads, queryBlocks, maxKept], -1, ScalarType.Int32, map.device)
                                    : empty([batch, heads, queryBlocks, maxKept], ScalarType.Int32, map.device);
        var counts = PoisonOutputs ? full([batch, heads, queryBlocks], -1, ScalarType.Int32, map.device)
                                   : empty([batch, heads, queryBlocks], ScalarType.Int32, map.device);
        TurboNative.Check(TurboNative.turbo_block_map_indices(TurboNative.Ptr(map), batch * heads * queryBlocks,
            (int)keyBlocks, maxKept, TurboNative.Ptr(indices), TurboNative.Ptr(counts), IntPtr.Zero));
        return (indices.MoveToOuterDisposeScope(), counts.MoveToOuterDisposeScope(), maxKept);
    }

    /// <summary>Most key blocks <see cref="TopBlockLists"/> takes (its row of scores is held in shared memory).</summary>
    public const long MaxSelectedKeyBlocks = 16384;

    /// <summary>
    /// SLA's selection from pooled scores float32 [B, H, nQ, nK] (nK = ⌈keyLength/blockK⌉ ≤ <see cref="MaxSelectedKeyBlocks"/>):
    /// the lists <see cref="KeptBlockLists"/> makes of <see cref="BlockSelection.Keep"/>'s map, straight from the scores
    /// (keyLengths: int32 [B] on the device, or null).
    /// </summary>
    public static (Tensor Indices, Tensor Counts, int MaxKept) TopBlockLists(Tensor scores, Tensor? keyLengths, long keyLength,
        int blockK, double topK)
    {
        using var scope = NewDisposeScope();
        var input = scores.contiguous();
        var (batch, heads, queryBlocks, keyBlocks) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3]);
        var indices = PoisonOutputs ? full([batch, heads, queryBlocks, keyBlocks], -1, ScalarType.Int32, input.device)
                                    : empty([batch, heads, queryBlocks, keyBlocks], ScalarType.Int32, input.device);
        var counts = PoisonOutputs ? full([batch, heads, queryBlocks], -1, ScalarType.Int32, input.device)
                                   : empty([batch, heads, queryBlocks], ScalarType.Int32, input.device);
        TurboNative.Check(TurboNative.turbo_sla_top_blocks(TurboNative.Ptr(input), batch, heads, (int)queryBlocks, (int)keyBlocks,
            TurboNative.PtrOrNull(keyLengths), keyLength, blockK, topK, TurboNative.Ptr(indices), TurboNative.Ptr(counts), IntPtr.Zero));
        return (indices.MoveToOuterDisposeScope(), counts.MoveToOuterDisposeScope(), (int)keyBlocks);
    }

    /// <summary>
    /// The whole quantized attention: K's mean, INT8 q and smoothed k per block, V in its P·V format (E4M3 with
    /// per-channel scales, fp16, or bf16 — a bf16 v as it is, <see cref="ReadsValuesInPlace"/>), the kept-block lists of <paramref name="keyBlocks"/> (a map, SLA's selection, or every key
    /// block), then the flash kernel. q [B, H, Lq, D], k and v [B, H, Lk, D] of one dtype (float32, bfloat16 or float16); keyLengths int
    /// [B] or null; scoreScale the softmax scale times log2(e) (the kernel's softmax is in base 2) → [B, H, Lq, D] in
    /// q's dtype, a view of a [B, Lq, H, D] buffer (what the output projection wants).
    /// </summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? keyLengths, KeyBlocks keyBlocks, int blockQ, int blockK,
        PvPrecision pv, double scoreScale, SageKernel kernel = SageKernel.Auto, Tensor? keyMean = null, Tensor? valueScales = null)
    {
        using var operands = Prepare(q, k, v, keyLengths, keyBlocks, blockQ, blockK, pv, keyMean, valueScales);
        return Launch(operands, scoreScale, kernel);
    }

    /// <summary>True when <see cref="KeyBlocks.TopK"/> can be selected here: the selection kernel holds a row of at most <see cref="MaxSelectedKeyBlocks"/>.</summary>
    public static bool CanSelect(long keyLength, int blockK) => (keyLength + blockK - 1) / blockK <= MaxSelectedKeyBlocks;

    /// <summary>
    /// Everything <see cref="Attend"/> does before its kernel, so that the kernel can also be timed alone.
    /// <paramref name="keyMean"/> and <paramref name="valueScales"/>: <see cref="TokenMean"/> of k and
    /// <see cref="E4M3Scales"/> of v where the caller has them already (SLA's key side computes them in its own pass
    /// over k and v), float32 [B, H, D]; null: computed here (V's scales only for E4M3 P·V).
    /// </summary>
    public static SageOperands Prepare(Tensor q, Tensor k, Tensor v, Tensor? keyLengths, KeyBlocks keyBlocks, int blockQ, int blockK,
        PvPrecision pv, Tensor? keyMean = null, Tensor? valueScales = null)
    {
        using var scope = NewDisposeScope();
        var lengths = keyLengths?.to(ScalarType.Int32, q.device).contiguous();
        bool select = keyBlocks.TopK is not null;
        Tensor qCodes, qScales, kCodes, kScales, values;
        Tensor? pooledQ, pooledK, vScales;
        // The profiler's details name self-attention: that is where the models use these kernels.
        using (CudaProfiler.Scope("self-attention/sage prep"))
        {
            (qCodes, qScales, pooledQ) = QuantizeBlocks(q, blockQ, pool: select);
            (kCodes, kScales, pooledK) = QuantizeBlocks(k, blockK, keyMean ?? TokenMean(k, lengths), lengths, pool: select);
            // Aliases, so that disposing the operands leaves the caller's tensors alone.
            vScales = pv == PvPrecision.Fp8E4M3 ? valueScales?.alias() ?? E4M3Scales(v, lengths) : null;
            values = pv switch
            {
                PvPrecision.Bf16 when ReadsValuesInPlace(v) => v.alias(),
                PvPrecision.Bf16 => PrepareValues(v, blockK, lengths, null, ScalarType.BFloat16),
                _ => PrepareValues(v, blockK, lengths, vScales),
            };
        }
        var (kept, counts, maxKept) = keyBlocks switch
        {
            { TopK: { } topK } => SelectFromPooled(pooledQ!, pooledK!, lengths, k.shape[2], blockK, topK),
            { Map: { } map } => KeptBlockLists(map),
            _ => (null, null, 0),
        };
        var operands = new SageOperands(qCodes, qScales, kCodes, kScales, values, vScales, lengths, kept, counts, maxKept,
            q.shape, k.shape[2], q.dtype, blockQ, blockK);
        foreach (var t in operands.Tensors) t.MoveToOuterDisposeScope();
        return operands;
    }

    /// <summary>
    /// SLA's selection (<see cref="BlockSelection.Select"/>) from the quantizer's pooled q and smoothed k, float32
    /// [B, H, nQ, D] and [B, H, nK, D]: the scores (a batched matmul), then <see cref="TopBlockLists"/>.
    /// </summary>
    public static (Tensor Indices, Tensor Counts, int MaxKept) SelectFromPooled(Tensor pooledQ, Tensor pooledK, Tensor? lengths, long keyLength,
        int blockK, double topK)
    {
        using var scope = NewDisposeScope();
        using var selection = CudaProfiler.Scope("self-attention/selection");
        Tensor scores;
        using (CudaProfiler.Scope("self-attention/selection: scores"))
            scores = pooledQ.matmul(pooledK.transpose(-1, -2));
        using (CudaProfiler.Scope("self-attention/selection: top-k"))
        {
            var (indices, counts, maxKept) = TopBlockLists(scores, lengths, keyLength, blockK, topK);
            return (indices.MoveToOuterDisposeScope(), counts.MoveToOuterDisposeScope(), maxKept);
        }
    }

    /// <summary>The flash kernel on prepared operands → [B, H, Lq, D] as <see cref="Attend"/> returns it.</summary>
    public static Tensor Launch(SageOperands o, double scoreScale, SageKernel kernel = SageKernel.Auto)
    {
        using var scope = NewDisposeScope();
        var (batch, heads, queries, dim) = (o.QueryShape[0], o.QueryShape[1], o.QueryShape[2], o.QueryShape[3]);
        var output = NewOutput([batch, queries, heads, dim], o.Dtype, o.QCodes.device);
        var args = new TurboNative.SageArgs
        {
            QCodes = TurboNative.Ptr(o.QCodes), QScales = TurboNative.Ptr(o.QScales),
            KCodes = TurboNative.Ptr(o.KCodes), KScales = TurboNative.Ptr(o.KScales),
            Values = TurboNative.StridedPtr(o.Values), VScales = TurboNative.PtrOrNull(o.VScales),
            KeyLengths = TurboNative.PtrOrNull(o.KeyLengths),
            KeptBlocks = TurboNative.PtrOrNull(o.Kept), KeptCounts = TurboNative.PtrOrNull(o.KeptCounts),
            Output = TurboNative.Ptr(output),
            OutStrideB = queries * heads * dim, OutStrideH = dim, OutStrideL = heads * dim,
            Batch = batch, Heads = heads, QueryLength = queries, KeyLength = o.KeyLength,
            HeadDim = (int)dim, BlockQ = o.BlockQ, BlockK = o.BlockK, MaxKept = o.MaxKept,
            OutDtype = TurboNative.DType(output), ScoreScale = (float)scoreScale, Kernel = (int)kernel,
            ValuesDtype = TurboNative.DType(o.Values),
            ValueStrideB = o.Values.stride(0), ValueStrideH = o.Values.stride(1), ValueStrideL = o.Values.stride(2),
            ValuesLength = o.Values.shape[2],
        };
        using (CudaProfiler.Scope("self-attention/sage kernel"))
            TurboNative.Check(TurboNative.turbo_sage_attention(in args, IntPtr.Zero));
        return output.transpose(1, 2).MoveToOuterDisposeScope();
    }

    static Tensor NewOutput(long[] shape, ScalarType dtype, Device device) =>
        PoisonOutputs ? full(shape, float.NaN, dtype, device) : empty(shape, dtype, device);

    static Tensor ChannelsContiguous(Tensor x)
    {
        if (x.dim() != 4 || !IsKernelHeadDim(x.shape[3]))
            throw new TurboException($"Sage kernels: expected [B, H, L, 64 or 128], found [{string.Join(", ", x.shape)}]");
        return x.stride(3) == 1 ? x : x.contiguous();
    }

    static (long B, long H, long L, int D) Dims(Tensor x) => (x.shape[0], x.shape[1], x.shape[2], (int)x.shape[3]);

    static long[] Strides(Tensor x) => [x.stride(0), x.stride(1), x.stride(2)];
}

/// <summary>
/// The operands of the Sage kernel made by <see cref="SageKernels.Prepare"/>: INT8 q and smoothed k with their block
/// scales, V in its P·V format [B, H, ≥ Lk, D] (a prepared buffer or the caller's bf16 v; and E4M3 scales), int32 key lengths, the kept-block lists (null: dense), and the
/// shape of the attention they are for.
/// </summary>
public sealed record SageOperands(Tensor QCodes, Tensor QScales, Tensor KCodes, Tensor KScales, Tensor Values, Tensor? VScales,
    Tensor? KeyLengths, Tensor? Kept, Tensor? KeptCounts, int MaxKept, long[] QueryShape, long KeyLength, ScalarType Dtype,
    int BlockQ, int BlockK) : IDisposable
{
    public IEnumerable<Tensor> Tensors =>
        new[] { QCodes, QScales, KCodes, KScales, Values, VScales, KeyLengths, Kept, KeptCounts }.OfType<Tensor>();

    public void Dispose()
    {
        foreach (var t in Tensors) t.Dispose();
    }
}
