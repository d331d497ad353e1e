using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Runtime.Attention;

/// <summary>
/// Reference for SageAttention-style quantized attention (SageAttention2 with per-block INT8 q/k, as in
/// SpargeAttn/SageSLA), computed block by block the way the kernel does, so that a CUDA kernel can be compared to it:
/// <list type="number">
/// <item>K is smoothed: its mean over the (valid) tokens is subtracted per (batch, head, channel). q·(k − m) differs
/// from q·k by a constant per query row, which softmax ignores.</item>
/// <item>q and smoothed k are quantized to INT8 per block of BlockQ / BlockK tokens (<see cref="Int8BlockQuantizer"/>);
/// q·kᵀ of the codes is computed exactly (float32 products of integers whose sums stay below 2²⁴) and scaled by
/// (scale_q·scale_k)·<see cref="ScoreScale"/> in float32, in that order: scores in log2 units, so that softmax is
/// exp2, as in the kernel (which then agrees with this reference on every score bit for bit, and on every P as far as
/// the two exp2 implementations agree: both are CUDA's on the GPU).</item>
/// <item>V is quantized per channel (scale absmax·(1/448), E4M3) or cast to FP16; P = exp2(s − m) is scaled by the
/// static 448 (FP8) and rounded to E4M3, or cast to FP16.</item>
/// <item>A flash-style loop over key blocks keeps the running row max m, the row sum l (of the unrounded P, as the
/// kernel sums its fp32 P) and the output accumulator in float32; the result is acc / l · scale_v.</item>
/// </list>
/// Non-causal, forward only. Head dims up to 128: the kernels take 64 and 128, a smaller head dim is what they compute
/// after zero-padding to 64 or 128 (zero channels add nothing to q·kᵀ and their outputs are dropped), which is what
/// this reference computes directly. Never uses an int8 matmul (libtorch has none on CUDA and aborts).
/// </summary>
public sealed class SageAttention : IAttentionBackend
{
    /// <summary>P is at most 1 after the running max is subtracted; ×448 uses E4M3's whole range (the kernel's 2^8.807).</summary>
    const double PScale = Fp8E4M3.MaxFinite;

    /// <summary>The float32 reciprocal the per-channel V scales are multiplied by (the kernel's constant).</summary>
    const float InverseE4M3Max = (float)(1.0 / Fp8E4M3.MaxFinite);

    /// <summary>
    /// The scores' scale in log2 units, log2(e)/√D: exp2(s·this) = exp(s/√D). One double shared by this reference
    /// and the kernel's argument, so both round it to the same float32.
    /// </summary>
    public static double ScoreScale(long headDim) => 1.4426950408889634 / Math.Sqrt(headDim);

    public int BlockQ { get; }
    public int BlockK { get; }
    public PvPrecision PvPrecision { get; }

    public SageAttention(int blockQ = 128, int blockK = 64, PvPrecision pvPrecision = PvPrecision.Fp8E4M3)
    {
        AttentionConfig.CheckBlocks("Sage", blockQ, blockK, AttentionConfig.QuantizedBlocks);
        if (!Enum.IsDefined(pvPrecision))
            throw new TurboException($"attention config: unknown P·V precision {(int)pvPrecision} (expected Fp8E4M3 or Fp16)");
        (BlockQ, BlockK, PvPrecision) = (blockQ, blockK, pvPrecision);
    }

    public Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? keyLengths = null) => Attend(q, k, v, keyLengths, blockMap: null);

    /// <summary>
    /// As <see cref="IAttentionBackend.Attend"/>; with <paramref name="blockMap"/> (bool [B, H, ⌈Lq/BlockQ⌉, ⌈Lk/BlockK⌉],
    /// every query block keeping at least one key block that holds a valid key) only the kept blocks are attended:
    /// the block-sparse kernel of SageSLA.
    /// </summary>
    public Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? keyLengths, Tensor? blockMap)
    {
        Validate(q, k, v, keyLengths, blockMap);
        var (batch, heads, queries, dim) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3]);
        long keys = k.shape[2];
        long keyBlocks = (keys + BlockK - 1) / BlockK;

        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long[] lengths = AttentionInputs.HostLengths(keyLengths, batch, keys);
        var validKeys = keyLengths is null ? null
            : AttentionInputs.KeyMask(keyLengths, keys, q.device).view(batch, 1, keys, 1).to(ScalarType.Float32);

        var (qCodes, qScales) = Int8BlockQuantizer.Quantize(q, BlockQ);
        var (kCodes, kScales) = Int8BlockQuantizer.Quantize(BlockSelection.SmoothK(k.to(ScalarType.Float32), validKeys, lengths), BlockK);
        var (vQuantized, vScales) = QuantizeValues(validKeys is null ? v.to(ScalarType.Float32) : v.to(ScalarType.Float32) * validKeys, PvPrecision);
        double scoreScale = ScoreScale(dim);

        // The work comes in tiles of one query block × one key block per (batch, head), as in the kernel; the loop over
        // key blocks takes, for each, only the query blocks that keep it (all of them without a block map), gathered
        // into one batch of tiles. Rows are kept per query block: [B·H·nQ, BlockQ, ·], queries padded to whole blocks.
        long queryBlocks = (queries + BlockQ - 1) / BlockQ, batchHeads = batch * heads, tiles = batchHeads * queryBlocks;
        var qTiles = nn.functional.pad(qCodes, [0, 0, 0, queryBlocks * BlockQ - queries]).view(tiles, BlockQ, dim);
        var qTileScales = qScales.reshape(tiles, 1, 1);
        var kFlat = kCodes.reshape(batchHeads, keys, dim);
        var kFlatScales = kScales.reshape(batchHeads, keyBlocks);
        var vFlat = vQuantized.reshape(batchHeads, keys, dim);
        var tileLengths = tensor(lengths, device: q.device).repeat_interleave(heads * queryBlocks).view(tiles, 1, 1);
        var keptTiles = blockMap?.reshape(tiles, keyBlocks);
        var allTiles = arange(tiles, dtype: ScalarType.Int64, device: q.device);

        var rowMax = full(tiles, BlockQ, 1, double.NegativeInfinity, dtype: ScalarType.Float32, device: q.device);
        var rowSum = zeros(tiles, BlockQ, 1, dtype: ScalarType.Float32, device: q.device);
        var acc = zeros(tiles, BlockQ, dim, dtype: ScalarType.Float32, device: q.device);
        for (long j = 0; j < keyBlocks; j++)
        {
            using var step = NewDisposeScope();
            var taken = keptTiles is null ? allTiles : keptTiles.select(1, j).nonzero().squeeze(1);
            if (taken.numel() == 0) continue;
            var headOf = taken.div(queryBlocks, rounding_mode: RoundingMode.trunc);
            long start = j * BlockK, size = Math.Min(BlockK, keys - start);
            // Exact integers: |codes·codes| ≤ 128·127² < 2²⁴, so a float32 matmul loses nothing.
            var dots = qTiles.index_select(0, taken).bmm(kFlat.narrow(1, start, size).index_select(0, headOf).transpose(1, 2));
            var dequant = qTileScales.index_select(0, taken) * kFlatScales.narrow(1, j, 1).index_select(0, headOf).unsqueeze(-1) * scoreScale;
            var s = dots * dequant;                                                             // [tiles taken, BlockQ, size]
            var pastLength = arange(start, start + size, dtype: ScalarType.Int64, device: q.device).view(1, 1, size)
                .ge(tileLengths.index_select(0, taken));
            s = s.masked_fill(pastLength, double.NegativeInfinity);

            var oldMax = rowMax.index_select(0, taken);
            var newMax = maximum(oldMax, s.amax([-1L], keepdim: true));
            // A row that has seen only masked keys so far has max −∞; subtracting 0 instead keeps exp2() at 0, not NaN.
            var shift = where(newMax.isinf(), zeros_like(newMax), newMax);
            var decay = (oldMax - shift).exp2();
            var p = (s - shift).exp2();
            if (PvPrecision == PvPrecision.Fp8E4M3) p = p * PScale;
            var pRounded = PvPrecision == PvPrecision.Fp8E4M3 ? Fp8E4M3.Round(p) : p.to(ScalarType.Float16).to(ScalarType.Float32);
            rowSum.index_copy_(0, taken, rowSum.index_select(0, taken).mul_(decay).add_(p.sum([-1L], keepdim: true)));
            acc.index_copy_(0, taken, acc.index_select(0, taken).mul_(decay)
                .add_(pRounded.bmm(vFlat.narrow(1, start, size).index_select(0, headOf))));
            rowMax.index_copy_(0, taken, newMax);
        }
        var output = (acc / rowSum).view(batch, heads, queryBlocks * BlockQ, dim).narrow(2, 0, queries);
        return (output * vScales).to(q.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The checks every Sage computation makes before any TorchSharp call: the q/k/v layout and key lengths, the head
    /// dim, forward-only use, and the block map's dtype and shape [B, H, ⌈Lq/BlockQ⌉, ⌈Lk/BlockK⌉].
    /// </summary>
    public void Validate(Tensor q, Tensor k, Tensor v, Tensor? keyLengths, Tensor? blockMap)
    {
        AttentionInputs.Validate(q, k, v, keyLengths);
        if (q.shape[3] > AttentionConfig.MaxQuantizedHeadDim)
            throw new TurboException($"Sage attention: head dim {q.shape[3]} exceeds {AttentionConfig.MaxQuantizedHeadDim}");
        if (is_grad_enabled() && (q.requires_grad || k.requires_grad || v.requires_grad))
            throw new TurboException("Sage attention is forward-only (quantization has no useful gradient): use Dense or Sla to train");
        long[] mapShape = [q.shape[0], q.shape[1], (q.shape[2] + BlockQ - 1) / BlockQ, (k.shape[2] + BlockK - 1) / BlockK];
        if (blockMap is not null && (blockMap.dtype != ScalarType.Bool || !blockMap.shape.SequenceEqual(mapShape)
                                     || blockMap.device_type != q.device_type || blockMap.device_index != q.device_index))
            throw new TurboException(
                $"Sage attention: expected a Bool block map [{string.Join(", ", mapShape)}] on {q.device}, " +
                $"found {blockMap.dtype} [{string.Join(", ", blockMap.shape)}] on {blockMap.device}");
    }

    /// <summary>
    /// v [B, H, Lk, D] float32 (0 past the key lengths) → the P·V operand as float32 values and the scales that undo
    /// it: per channel E4M3 (values v / scale rounded, scales absmax·(1/448) [B, H, 1, D], 1 where the absmax is 0), or
    /// FP16 (values rounded to fp16, scale 1).
    /// </summary>
    public static (Tensor Values, Tensor Scales) QuantizeValues(Tensor v, PvPrecision precision)
    {
        if (precision == PvPrecision.Fp16)
            return (v.to(ScalarType.Float16).to(ScalarType.Float32), ones(1, dtype: ScalarType.Float32, device: v.device));
        var absmax = v.abs().amax([2L], keepdim: true);
        var scales = where(absmax.gt(0), absmax * InverseE4M3Max, ones_like(absmax));
        return (Fp8E4M3.Round(v / scales), scales);
    }
}
