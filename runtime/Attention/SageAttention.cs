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
/// <item>V is quantized per channel (scale absmax·(1/448), E4M3) or cast to FP16 or BF16; P = exp2(s − m) is scaled
/// by the static 448 (FP8) and rounded to E4M3, or cast to FP16 or BF16.</item>
/// <item>A flash-style loop over the key blocks each query block visits (the kept ones in ascending order, or every
/// block up to the key length) keeps the running row max m, the row sum l (of the unrounded P, as the kernel sums its
/// fp32 P) and the output accumulator in float32; the result is acc / l · scale_v. The max is updated once per
/// <see cref="KeyBlocksPerUpdate"/> visited blocks, as the kernel that is compared does: P of each block is taken
/// against the max over all blocks of its update, or against the old max where they pass it by at most
/// <see cref="RowMaxSlack"/>.</item>
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

    /// <summary>
    /// How many visited key blocks update the running max together: 1, as the warp kernel (SageKernel.Mma) and the
    /// warpgroup kernel's dense form, or 2, as the warpgroup kernel (SageKernel.Wgmma) over kept blocks. A query
    /// block's visits go in groups of this many, the remainder of an uneven count last. Every value computes the same
    /// attention up to the rounding of P (each P is taken against a max that is final for more keys).
    /// </summary>
    public int KeyBlocksPerUpdate
    {
        get => keyBlocksPerUpdate;
        init => keyBlocksPerUpdate = value is 1 or 2 ? value
            : throw new TurboException($"Sage attention: key blocks per update must be 1 or 2, found {value}");
    }
    readonly int keyBlocksPerUpdate = 1;

    /// <summary>
    /// How far (log2 units) a row's running max may lag behind its scores: an update raises it only where its scores
    /// pass it by more than this, so P reaches up to 2^slack and most updates leave the accumulator unscaled. 0 (the
    /// warp kernel; E4M3, whose ×448 needs P ≤ 1) raises it with every larger score; the warpgroup kernel takes 8 with
    /// FP16 and BF16 P. The attention computed is the same; some P are rounded at another power of two.
    /// </summary>
    public float RowMaxSlack
    {
        get => rowMaxSlack;
        init => rowMaxSlack = value is >= 0 and <= MaxRowMaxSlack && (value == 0 || PvPrecision != PvPrecision.Fp8E4M3) ? value
            : throw new TurboException($"Sage attention: row max slack must be in 0..{MaxRowMaxSlack} (0 with E4M3 P·V), found {value} with {PvPrecision}");
    }
    readonly float rowMaxSlack;

    /// <summary>The largest slack: P up to 2^8 keeps fp16's range and the row sums' float32 precision.</summary>
    public const float MaxRowMaxSlack = 8;

    public SageAttention(int blockQ = 128, int blockK = 64, PvPrecision pvPrecision = PvPrecision.Bf16)
    {
        AttentionConfig.CheckBlocks("Sage", blockQ, blockK, AttentionConfig.QuantizedBlocks);
        if (!Enum.IsDefined(pvPrecision))
            throw new TurboException($"attention config: unknown P·V precision {(int)pvPrecision} (expected {AttentionConfig.PvPrecisions})");
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

        // The work comes in tiles of one query block × one key block per (batch, head), as in the kernel. Rows are kept
        // per query block: [B·H·nQ, BlockQ, ·], queries padded to whole blocks; keys and values per key block, padded
        // to whole blocks: [B·H·nK, BlockK, ·] (reshaped: the inputs may be views of token-major [B, L, H, D] tensors,
        // which the quantized copies keep). Update u of every tile that has one is computed as one batch of tiles.
        long queryBlocks = (queries + BlockQ - 1) / BlockQ, batchHeads = batch * heads, tiles = batchHeads * queryBlocks;
        var qTiles = nn.functional.pad(qCodes, [0, 0, 0, queryBlocks * BlockQ - queries]).reshape(tiles, BlockQ, dim);
        var qTileScales = qScales.reshape(tiles, 1, 1);
        long paddedKeys = keyBlocks * BlockK - keys;
        var kBlocks = nn.functional.pad(kCodes, [0, 0, 0, paddedKeys]).reshape(batchHeads * keyBlocks, BlockK, dim);
        var kBlockScales = kScales.reshape(batchHeads * keyBlocks, 1, 1);
        var vBlocks = nn.functional.pad(vQuantized, [0, 0, 0, paddedKeys]).reshape(batchHeads * keyBlocks, BlockK, dim);
        var keyOffsets = arange(BlockK, dtype: ScalarType.Int64, device: q.device).view(1, 1, BlockK);

        long tilesPerSample = heads * queryBlocks;
        long[][] visits = VisitedBlocks(blockMap, tiles, keyBlocks, lengths, tilesPerSample);
        int perUpdate = KeyBlocksPerUpdate;
        // A tile's uneven remainder forms its last update, whose places past its last visit are empty.
        long[] updates = visits.Select(v => (long)((v.Length + perUpdate - 1) / perUpdate)).ToArray();
        long updateCount = updates.Max();

        var rowMax = full(tiles, BlockQ, 1, double.NegativeInfinity, dtype: ScalarType.Float32, device: q.device);
        var rowSum = zeros(tiles, BlockQ, 1, dtype: ScalarType.Float32, device: q.device);
        var acc = zeros(tiles, BlockQ, dim, dtype: ScalarType.Float32, device: q.device);
        for (long u = 0; u < updateCount; u++)
        {
            using var step = NewDisposeScope();
            long[] active = Enumerable.Range(0, (int)tiles).Where(t => updates[t] > u).Select(t => (long)t).ToArray();
            var taken = tensor(active, device: q.device);
            var scores = new Tensor[perUpdate];
            var blockRows = new Tensor[perUpdate];
            for (int m = 0; m < perUpdate; m++)
            {
                // Member m of update u is visit u·perUpdate + m; past the last visit it is an empty place.
                long visit = u * perUpdate + m;
                bool[] present = active.Select(t => visit < visits[t].Length).ToArray();
                long[] rows = active.Select((t, i) => t / queryBlocks * keyBlocks + (present[i] ? visits[t][visit] : 0)).ToArray();
                long[] keysInBlock = active.Select((t, i) => present[i]
                    ? lengths[t / tilesPerSample] - visits[t][visit] * BlockK : 0).ToArray();
                blockRows[m] = tensor(rows, device: q.device);
                // Exact integers: |codes·codes| ≤ 128·127² < 2²⁴, so a float32 matmul loses nothing.
                var dots = qTiles.index_select(0, taken).bmm(kBlocks.index_select(0, blockRows[m]).transpose(1, 2));
                var dequant = qTileScales.index_select(0, taken) * kBlockScales.index_select(0, blockRows[m]) * scoreScale;
                scores[m] = (dots * dequant).masked_fill(keyOffsets.ge(tensor(keysInBlock, device: q.device).view(-1, 1, 1)),
                    double.NegativeInfinity);                                                // [tiles taken, BlockQ, BlockK]
            }

            var oldMax = rowMax.index_select(0, taken);
            var updateMax = scores.Skip(1).Aggregate(scores[0].amax([-1L], keepdim: true), (max, s) => maximum(max, s.amax([-1L], keepdim: true)));
            // Raised only past the slack (float32 sum and comparison, as the kernel's); ties and −∞ keep the old max.
            var newMax = where(updateMax.gt(oldMax + RowMaxSlack), updateMax, oldMax);
            // A row that has seen only masked keys so far has max −∞; subtracting 0 instead keeps exp2() at 0, not NaN.
            var shift = where(newMax.isinf(), zeros_like(newMax), newMax);
            var decay = (oldMax - shift).exp2();
            var sum = rowSum.index_select(0, taken).mul_(decay);
            var output = acc.index_select(0, taken).mul_(decay);
            for (int m = 0; m < perUpdate; m++)
            {
                var p = (scores[m] - shift).exp2();
                if (PvPrecision == PvPrecision.Fp8E4M3) p = p * PScale;
                var pRounded = PvPrecision switch
                {
                    PvPrecision.Fp8E4M3 => Fp8E4M3.Round(p),
                    PvPrecision.Bf16 => p.to(ScalarType.BFloat16).to(ScalarType.Float32),
                    _ => p.to(ScalarType.Float16).to(ScalarType.Float32),
                };
                sum.add_(p.sum([-1L], keepdim: true));
                output.add_(pRounded.bmm(vBlocks.index_select(0, blockRows[m])));
            }
            rowSum.index_copy_(0, taken, sum);
            acc.index_copy_(0, taken, output);
            rowMax.index_copy_(0, taken, newMax);
        }
        var attended = (acc / rowSum).view(batch, heads, queryBlocks * BlockQ, dim).narrow(2, 0, queries);
        return (attended * vScales).to(q.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The key blocks each tile (b·H·nQ + h·nQ + query block) visits, in the kernels' order: with a block map its kept
    /// blocks in ascending order, else every block up to the key length of its sample (⌈length / BlockK⌉ of them).
    /// </summary>
    long[][] VisitedBlocks(Tensor? blockMap, long tiles, long keyBlocks, long[] lengths, long tilesPerSample)
    {
        if (blockMap is null)
            return Enumerable.Range(0, (int)tiles)
                .Select(t => LongRange((lengths[t / tilesPerSample] + BlockK - 1) / BlockK)).ToArray();
        using var kept = blockMap.reshape(tiles, keyBlocks).cpu();
        bool[] flags = kept.data<bool>().ToArray();
        return Enumerable.Range(0, (int)tiles)
            .Select(t => LongRange(keyBlocks).Where(j => flags[t * keyBlocks + j]).ToArray()).ToArray();
    }

    static long[] LongRange(long count) => Enumerable.Range(0, (int)count).Select(j => (long)j).ToArray();

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
    /// FP16 / BF16 (values rounded to that type, scale 1).
    /// </summary>
    public static (Tensor Values, Tensor Scales) QuantizeValues(Tensor v, PvPrecision precision)
    {
        if (precision is PvPrecision.Fp16 or PvPrecision.Bf16)
            return (v.to(precision == PvPrecision.Bf16 ? ScalarType.BFloat16 : ScalarType.Float16).to(ScalarType.Float32),
                ones(1, dtype: ScalarType.Float32, device: v.device));
        var absmax = v.abs().amax([2L], keepdim: true);
        var scales = where(absmax.gt(0), absmax * InverseE4M3Max, ones_like(absmax));
        return (Fp8E4M3.Round(v / scales), scales);
    }
}
