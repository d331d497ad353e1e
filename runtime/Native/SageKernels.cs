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
    /// scales float32 [B, H, ⌈L/block⌉].
    /// </summary>
    public static (Tensor Codes, Tensor Scales) QuantizeBlocks(Tensor x, int block, Tensor? mean = null, Tensor? keyLengths = null)
    {
        using var scope = NewDisposeScope();
        var input = ChannelsContiguous(x);
        var (batch, heads, length, dim) = Dims(input);
        long blocks = (length + block - 1) / block;
        var codes = PoisonOutputs ? full([batch, heads, blocks * block, dim], -128, ScalarType.Int8, x.device)
                                  : empty([batch, heads, blocks * block, dim], ScalarType.Int8, x.device);
        var scales = NewOutput([batch, heads, blocks], ScalarType.Float32, x.device);
        using var meanC = mean?.contiguous();
        TurboNative.Check(TurboNative.turbo_quantize_int8_blocks(TurboNative.StridedPtr(input), TurboNative.DType(input),
            Strides(input), TurboNative.PtrOrNull(meanC), TurboNative.PtrOrNull(keyLengths), batch, heads, length, dim, block,
            TurboNative.Ptr(codes), TurboNative.Ptr(scales), IntPtr.Zero));
        return (codes.MoveToOuterDisposeScope(), scales.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// V as the P·V operand, float16 [B, H, ⌈L/block⌉·block, D], zero past L and the key lengths: v / scale rounded to
    /// FP8 E4M3 (held exactly in fp16) when <paramref name="e4m3Scales"/> [B, H, D] is given, else v rounded to fp16.
    /// </summary>
    public static Tensor PrepareValues(Tensor v, int block, Tensor? keyLengths, Tensor? e4m3Scales)
    {
        using var scope = NewDisposeScope();
        var input = ChannelsContiguous(v);
        var (batch, heads, length, dim) = Dims(input);
        var values = NewOutput([batch, heads, (length + block - 1) / block * block, dim], ScalarType.Float16, v.device);
        using var scales = e4m3Scales?.contiguous();
        TurboNative.Check(TurboNative.turbo_prepare_values(TurboNative.StridedPtr(input), TurboNative.DType(input),
            Strides(input), TurboNative.PtrOrNull(keyLengths), TurboNative.PtrOrNull(scales), batch, heads, length, dim, block,
            TurboNative.Ptr(values), IntPtr.Zero));
        return values.MoveToOuterDisposeScope();
    }

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

    /// <summary>
    /// The whole quantized attention: K's mean, INT8 q and smoothed k per block, V prepared (E4M3 with per-channel
    /// scales, or fp16), the kept-block lists of <paramref name="blockMap"/> (null: every key block), then the flash
    /// kernel. q [B, H, Lq, D], k and v [B, H, Lk, D] of one dtype (float32, bfloat16 or float16); keyLengths int
    /// [B] or null; scoreScale the softmax scale times log2(e) (the kernel's softmax is in base 2) → [B, H, Lq, D] in
    /// q's dtype, a view of a [B, Lq, H, D] buffer (what the output projection wants).
    /// </summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? keyLengths, Tensor? blockMap, int blockQ, int blockK,
        bool e4m3Values, double scoreScale, SageKernel kernel = SageKernel.Auto)
    {
        using var operands = Prepare(q, k, v, keyLengths, blockMap, blockQ, blockK, e4m3Values);
        return Launch(operands, scoreScale, kernel);
    }

    /// <summary>Everything <see cref="Attend"/> does before its kernel, so that the kernel can also be timed alone.</summary>
    public static SageOperands Prepare(Tensor q, Tensor k, Tensor v, Tensor? keyLengths, Tensor? blockMap, int blockQ, int blockK,
        bool e4m3Values)
    {
        using var scope = NewDisposeScope();
        // The profiler's details name self-attention: that is where the models use these kernels.
        using var prep = CudaProfiler.Scope("self-attention/sage prep");
        var lengths = keyLengths?.to(ScalarType.Int32, q.device).contiguous();
        var (qCodes, qScales) = QuantizeBlocks(q, blockQ);
        var (kCodes, kScales) = QuantizeBlocks(k, blockK, TokenMean(k, lengths), lengths);
        var vScales = e4m3Values ? E4M3Scales(v, lengths) : null;
        var values = PrepareValues(v, blockK, lengths, vScales);
        var (kept, counts, maxKept) = blockMap is null ? (null, null, 0) : KeptBlockLists(blockMap);
        var operands = new SageOperands(qCodes, qScales, kCodes, kScales, values, vScales, lengths, kept, counts, maxKept,
            q.shape, k.shape[2], q.dtype, blockQ, blockK);
        foreach (var t in operands.Tensors) t.MoveToOuterDisposeScope();
        return operands;
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
            Values = TurboNative.Ptr(o.Values), VScales = TurboNative.PtrOrNull(o.VScales),
            KeyLengths = TurboNative.PtrOrNull(o.KeyLengths),
            KeptBlocks = TurboNative.PtrOrNull(o.Kept), KeptCounts = TurboNative.PtrOrNull(o.KeptCounts),
            Output = TurboNative.Ptr(output),
            OutStrideB = queries * heads * dim, OutStrideH = dim, OutStrideL = heads * dim,
            Batch = batch, Heads = heads, QueryLength = queries, KeyLength = o.KeyLength,
            HeadDim = (int)dim, BlockQ = o.BlockQ, BlockK = o.BlockK, MaxKept = o.MaxKept,
            OutDtype = TurboNative.DType(output), ScoreScale = (float)scoreScale, Kernel = (int)kernel,
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
/// scales, V in its P·V format (and E4M3 scales), int32 key lengths, the kept-block lists (null: dense), and the
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
