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
/// q·kᵀ of the codes is computed exactly (in float64: integer products summed exactly) and scaled by
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
        var qRowScales = qScales.repeat_interleave(BlockQ, 2).narrow(2, 0, queries).unsqueeze(-1);   // [B, H, Lq, 1]
        var (vQuantized, vScales) = QuantizeValues(validKeys is null ? v.to(ScalarType.Float32) : v.to(ScalarType.Float32) * validKeys, PvPrecision);
        var keptRows = blockMap is null ? null : BlockSelection.PerQuery(blockMap, BlockQ, queries); // [B, H, Lq, nK]
        var keyPositions = arange(keys, dtype: ScalarType.Int64, device: q.device);
        var lengthColumn = tensor(lengths, device: q.device).view(batch, 1, 1, 1);
        double scoreScale = ScoreScale(dim);

        var rowMax = full(batch, heads, queries, 1, double.NegativeInfinity, dtype: ScalarType.Float32, device: q.device);
        var rowSum = zeros(batch, heads, queries, 1, dtype: ScalarType.Float32, device: q.device);
        var acc = zeros(batch, heads, queries, dim, dtype: ScalarType.Float32, device: q.device);
        for (long j = 0; j < keyBlocks; j++)
        {
            using var step = NewDisposeScope();
            long start = j * BlockK, size = Math.Min(BlockK, keys - start);
            // Exact integers: |codes·codes| ≤ 128·127² < 2²⁴, so a float32 matmul loses nothing.
            var dots = qCodes.matmul(kCodes.narrow(2, start, size).transpose(-1, -2));
            var dequant = qRowScales * kScales.narrow(2, j, 1).unsqueeze(-1) * scoreScale;
            var s = dots * dequant;                                                             // [B, H, Lq, size]
            var masked = keyPositions.narrow(0, start, size).view(1, 1, 1, size).ge(lengthColumn);
            if (keptRows is not null) masked = masked.logical_or(keptRows.narrow(3, j, 1).logical_not());
            s = s.masked_fill(masked, double.NegativeInfinity);

            var newMax = maximum(rowMax, s.amax([-1L], keepdim: true));
            // A row that has seen only masked keys so far has max −∞; subtracting 0 instead keeps exp2() at 0, not NaN.
            var shift = where(newMax.isinf(), zeros_like(newMax), newMax);
            var decay = (rowMax - shift).exp2();
            var p = (s - shift).exp2();
            if (PvPrecision == PvPrecision.Fp8E4M3) p = p * PScale;
            var pRounded = PvPrecision == PvPrecision.Fp8E4M3 ? Fp8E4M3.Round(p) : p.to(ScalarType.Float16).to(ScalarType.Float32);
            rowSum.mul_(decay).add_(p.sum([-1L], keepdim: true));
            acc.mul_(decay).add_(pRounded.matmul(vQuantized.narrow(2, start, size)));
            rowMax.copy_(newMax);
        }
        return (acc / rowSum * vScales).to(q.dtype).MoveToOuterDisposeScope();
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
