using Turbo.Tests.Support;
using Turbo.Runtime;
using Turbo.Runtime.Attention;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Tests.Attention;

/// <summary>The quantized Sage reference against exact float32 attention.</summary>
public class SageAttentionTests
{
    const double MinCosine = 0.999;
    const double MaxRelativeL1 = 0.03;

    /// <summary>
    /// Zero-mean i.i.d. values are the hard case for FP8 P·V: the output is a small average of values whose E4M3
    /// rounding errors (3 mantissa bits: about 2.5% rms, on V and again on P) do not shrink relative to it. The
    /// measured floor is 3.6–3.8% relative L1, so FP8 gets 4% here; FP16 P·V and realistic inputs (next test) meet 3%.
    /// </summary>
    [TestCase(64, 128, 64, PvPrecision.Fp8E4M3, 0.04)]
    [TestCase(64, 64, 128, PvPrecision.Fp8E4M3, 0.04)]
    [TestCase(128, 128, 64, PvPrecision.Fp8E4M3, 0.04)]
    [TestCase(128, 64, 128, PvPrecision.Fp8E4M3, 0.04)]
    [TestCase(64, 128, 64, PvPrecision.Fp16, MaxRelativeL1)]
    [TestCase(128, 64, 128, PvPrecision.Fp16, MaxRelativeL1)]
    [TestCase(64, 128, 64, PvPrecision.Bf16, MaxRelativeL1)]
    [TestCase(128, 128, 64, PvPrecision.Bf16, MaxRelativeL1)]
    public void ZeroMeanRandomInputsAgreeWithFp32Dense(int dim, int blockQ, int blockK, PvPrecision pv, double maxL1) =>
        CompareWithDense(dim, blockQ, blockK, pv, qScale: 1, vOffset: 0, maxL1);

    /// <summary>Values with channel means and logits spread ×2, as real self-attention inputs have.</summary>
    [TestCase(64, 128, 64, PvPrecision.Fp8E4M3)]
    [TestCase(128, 64, 128, PvPrecision.Fp8E4M3)]
    [TestCase(128, 128, 64, PvPrecision.Fp16)]
    [TestCase(128, 128, 64, PvPrecision.Bf16)]
    public void ActivationLikeRandomInputsAgreeWithFp32Dense(int dim, int blockQ, int blockK, PvPrecision pv) =>
        CompareWithDense(dim, blockQ, blockK, pv, qScale: 2, vOffset: 1, MaxRelativeL1);

    /// <summary>
    /// BF16 P·V, the default, keeps 8 significant bits of P and V where E4M3 keeps 4 (and FP16 11): on the same inputs
    /// its error against exact attention lies between FP16's and E4M3's, the INT8 q·kᵀ error common to all three.
    /// </summary>
    [Test]
    public void Bf16PvErrorLiesBetweenFp16AndE4M3()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (q, k, v) = AttentionMetrics.RandomQkv(batch: 2, heads: 2, length: 300, dim: 128, seed: 11, qScale: 2, vOffset: 1);
        var exact = new DenseAttention().Attend(q, k, v);
        double Error(PvPrecision pv) => AttentionMetrics.RelativeL1(new SageAttention(128, 64, pv).Attend(q, k, v), exact);
        var (fp16, bf16, e4m3) = (Error(PvPrecision.Fp16), Error(PvPrecision.Bf16), Error(PvPrecision.Fp8E4M3));
        TestContext.Out.WriteLine($"relative L1 against exact: FP16 {fp16:P3}, BF16 {bf16:P3}, E4M3 {e4m3:P3}");
        Assert.That(bf16, Is.GreaterThan(fp16));
        Assert.That(bf16, Is.LessThan(e4m3));
    }

    static void CompareWithDense(int dim, int blockQ, int blockK, PvPrecision pv, double qScale, double vOffset, double maxL1)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        // 300 tokens: not a multiple of either block size.
        var (q, k, v) = AttentionMetrics.RandomQkv(batch: 2, heads: 2, length: 300, dim: dim, seed: dim + blockQ,
            qScale: qScale, vOffset: vOffset);
        var reference = new DenseAttention().Attend(q, k, v);
        var sage = new SageAttention(blockQ, blockK, pv).Attend(q, k, v);
        double cosine = AttentionMetrics.Cosine(sage, reference), l1 = AttentionMetrics.RelativeL1(sage, reference);
        TestContext.Out.WriteLine(
            $"Sage D={dim} blocks {blockQ}x{blockK} {pv}, q×{qScale} v offset {vOffset}: cosine {cosine:F6}, relative L1 {l1:P3}");
        Assert.That(sage.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(cosine, Is.GreaterThanOrEqualTo(MinCosine));
        Assert.That(l1, Is.LessThanOrEqualTo(maxL1));
        Assert.That(l1, Is.GreaterThan(0), "quantization must change the result");
    }

    /// <summary>
    /// With a block map the reference attends each query block over its kept key blocks only (tiles gathered per key
    /// block): against exact softmax attention over the same keys (the SLA reference's sparse branch, float64), with
    /// query and key counts that are not multiples of the blocks, key lengths, and a query block that keeps every key.
    /// </summary>
    [TestCase(PvPrecision.Fp8E4M3, 0.04)]
    [TestCase(PvPrecision.Fp16, MaxRelativeL1)]
    [TestCase(PvPrecision.Bf16, MaxRelativeL1)]
    public void BlockSparseAgreesWithExactAttentionOverTheKeptBlocks(PvPrecision pv, double maxL1)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        const int blockQ = 64, blockK = 64;
        var (q, _, _) = AttentionMetrics.RandomQkv(batch: 2, heads: 3, length: 300, dim: 64, seed: 5);
        var (_, k, v) = AttentionMetrics.RandomQkv(batch: 2, heads: 3, length: 230, dim: 64, seed: 6);
        var lengths = tensor(new long[] { 230, 181 });
        var generator = new Generator(7);
        var map = rand([2, 3, 5, 4], generator: generator).lt(0.5);
        map.select(3, 0).fill_(true);         // every query block keeps a block of valid keys
        map[0, 1, 2] = tensor(true);          // and one keeps them all
        var exact = SparseLinearAttention.BlockSparseSoftmax(q.to(ScalarType.Float64), k.to(ScalarType.Float64),
            v.to(ScalarType.Float64), map, blockQ, blockK, lengths).to(ScalarType.Float32);
        var sage = new SageAttention(blockQ, blockK, pv).Attend(q, k, v, lengths, map);
        double cosine = AttentionMetrics.Cosine(sage, exact), l1 = AttentionMetrics.RelativeL1(sage, exact);
        TestContext.Out.WriteLine($"block-sparse Sage {pv}: cosine {cosine:F6}, relative L1 {l1:P3}");
        Assert.That(cosine, Is.GreaterThanOrEqualTo(MinCosine));
        Assert.That(l1, Is.LessThanOrEqualTo(maxL1));
        var dense = new SageAttention(blockQ, blockK, pv).Attend(q, k, v, lengths);
        Assert.That(AttentionMetrics.RelativeL1(sage, dense), Is.GreaterThan(0.1), "the dropped blocks are left out");
    }

    /// <summary>
    /// With two key blocks per update (the warpgroup kernel's order) a query block visiting three blocks updates its
    /// max after blocks 0 and 1 together, then after block 2 alone: P of blocks 0 and 1 is taken against the max over
    /// both, P of block 2 against the max over all three. Computed here step by step for E4M3 P, whose coarse rounding
    /// tells the orders apart: the paired reference agrees with it to float32 summation order, the per-block one does not.
    /// </summary>
    [Test]
    public void PairedUpdatesTakeEachPAgainstTheMaxOfItsPair()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        const int blockQ = 128, blockK = 64, keys = 170;  // three key blocks, the last one partial
        var (q, k, v) = AttentionMetrics.RandomQkv(batch: 1, heads: 1, length: keys, dim: 64, seed: 21, qScale: 2, vOffset: 1);
        var scores = QuantizedScores(q, k, blockQ, blockK);
        var (values, vScales) = SageAttention.QuantizeValues(v, PvPrecision.Fp8E4M3);
        var (pair, last) = (scores.narrow(3, 0, 2 * blockK), scores.narrow(3, 2 * blockK, keys - 2 * blockK));
        var pairMax = pair.amax([-1L], keepdim: true);
        var lastMax = maximum(pairMax, last.amax([-1L], keepdim: true));
        // P × 448 (E4M3's range), summed unrounded and rounded for P·V, as the reference and the kernels do.
        var stepByStep = TwoUpdates(pair, pairMax, values.narrow(2, 0, 2 * blockK), last, lastMax,
            values.narrow(2, 2 * blockK, keys - 2 * blockK), p => p * Fp8E4M3.MaxFinite, Fp8E4M3.Round) * vScales;

        var paired = new SageAttention(blockQ, blockK, PvPrecision.Fp8E4M3) { KeyBlocksPerUpdate = 2 }.Attend(q, k, v);
        var perBlock = new SageAttention(blockQ, blockK, PvPrecision.Fp8E4M3).Attend(q, k, v);
        OnlyTheFirstIsTheStepByStepOrder(paired, perBlock, stepByStep, "pairs: paired against per block");
    }

    /// <summary>
    /// With a row-max slack (the warpgroup kernel's 8 with 16-bit P) a row's max is raised only where a block's scores
    /// pass it by more than the slack: P of a second block whose max is a little higher is taken against the first
    /// block's max, up to 2^8. Computed here step by step for BF16 P over two key blocks: the slack reference agrees with
    /// it to float32 summation order; the exact one rounds those P at another power of two.
    /// </summary>
    [Test]
    public void ASlackKeepsTheRowMaxUntilScoresPassItByMore()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        const int blockQ = 128, blockK = 64, keys = 128;  // two key blocks
        var (q, k, v) = AttentionMetrics.RandomQkv(batch: 1, heads: 1, length: keys, dim: 64, seed: 29, qScale: 2, vOffset: 1);
        var scores = QuantizedScores(q, k, blockQ, blockK);
        var (values, _) = SageAttention.QuantizeValues(v, PvPrecision.Bf16);
        var (first, second) = (scores.narrow(3, 0, blockK), scores.narrow(3, blockK, blockK));
        var firstMax = first.amax([-1L], keepdim: true);
        var secondMax = second.amax([-1L], keepdim: true);
        var laggingMax = where(secondMax.gt(firstMax + SageAttention.MaxRowMaxSlack), secondMax, firstMax);
        Assert.That(secondMax.gt(firstMax).logical_and(laggingMax.eq(firstMax)).any().item<bool>(), Is.True,
            "some rows keep a max that the second block passes");
        var stepByStep = TwoUpdates(first, firstMax, values.narrow(2, 0, blockK), second, laggingMax, values.narrow(2, blockK, blockK),
            p => p, p => p.to(ScalarType.BFloat16).to(ScalarType.Float32));

        var lagging = new SageAttention(blockQ, blockK, PvPrecision.Bf16) { RowMaxSlack = SageAttention.MaxRowMaxSlack }.Attend(q, k, v);
        var exact = new SageAttention(blockQ, blockK, PvPrecision.Bf16).Attend(q, k, v);
        OnlyTheFirstIsTheStepByStepOrder(lagging, exact, stepByStep, "row max: slack 8 against exact");
    }

    // The scores in log2 units as the reference computes them: INT8 q and smoothed k per block, exact products, × the
    // blocks' scales and the score scale. [1, 1, Lq, Lk] for one batch and head.
    static Tensor QuantizedScores(Tensor q, Tensor k, int blockQ, int blockK)
    {
        long keys = k.shape[2];
        var (qCodes, qScales) = Int8BlockQuantizer.Quantize(q, blockQ);
        var (kCodes, kScales) = Int8BlockQuantizer.Quantize(BlockSelection.SmoothK(k, null, [keys]), blockK);
        var rowScales = qScales.repeat_interleave(blockQ, 2).narrow(2, 0, q.shape[2]).unsqueeze(-1);  // [1, 1, Lq, 1]
        var keyScales = kScales.repeat_interleave(blockK, 2).narrow(2, 0, keys).unsqueeze(2);         // [1, 1, 1, Lk]
        return qCodes.matmul(kCodes.transpose(-1, -2)) * (rowScales * keyScales * SageAttention.ScoreScale(q.shape[3]));
    }

    // Two online-softmax updates written out: P = scale(exp2(s − max)) of each, summed unrounded and rounded for P·V,
    // the first update's sums decayed to the second's max.
    static Tensor TwoUpdates(Tensor first, Tensor firstMax, Tensor firstValues, Tensor second, Tensor secondMax, Tensor secondValues,
        Func<Tensor, Tensor> scale, Func<Tensor, Tensor> round)
    {
        var (p1, p2) = (scale((first - firstMax).exp2()), scale((second - secondMax).exp2()));
        var decay = (firstMax - secondMax).exp2();
        var sum = p1.sum([-1L], keepdim: true) * decay + p2.sum([-1L], keepdim: true);
        return (round(p1).matmul(firstValues) * decay + round(p2).matmul(secondValues)) / sum;
    }

    // `matching` computes the step-by-step order to float32 summation order, `other` rounds some P differently, and
    // both compute the same attention.
    static void OnlyTheFirstIsTheStepByStepOrder(Tensor matching, Tensor other, Tensor stepByStep, string what)
    {
        double matchingError = AttentionMetrics.MaxRelative(matching, stepByStep), otherError = AttentionMetrics.MaxRelative(other, stepByStep);
        TestContext.Out.WriteLine($"{what}: max relative difference from the step-by-step order {matchingError:E2} / {otherError:E2}");
        Assert.That(matchingError, Is.LessThan(1e-5));
        Assert.That(otherError, Is.GreaterThan(1e-4), "the other order rounds some P against another max");
        Assert.That(AttentionMetrics.RelativeL1(matching, other), Is.LessThan(1e-2), "both orders compute the same attention");
    }

    [TestCase(PvPrecision.Fp8E4M3, 8f)]
    [TestCase(PvPrecision.Bf16, 9f)]
    [TestCase(PvPrecision.Fp16, -1f)]
    [TestCase(PvPrecision.Bf16, float.NaN)]
    public void ASlackOutsideItsRangeIsRefused(PvPrecision pv, float slack) =>
        Assert.Throws<TurboException>(() => _ = new SageAttention(128, 64, pv) { RowMaxSlack = slack });

    /// <summary>
    /// Paired updates over kept blocks: every query block pairs its own visits (uneven counts leave the last alone), so
    /// the result stays that of attention over the kept keys, close to the per-block order.
    /// </summary>
    [Test]
    public void PairedUpdatesKeepTheBlockSparseResult()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (q, k, v) = AttentionMetrics.RandomQkv(batch: 2, heads: 2, length: 300, dim: 64, seed: 23, qScale: 2, vOffset: 1);
        var lengths = tensor(new long[] { 300, 201 });
        var map = BlockSelection.Select(q, k, 0.6, 64, 64, lengths);
        var paired = new SageAttention(64, 64, PvPrecision.Fp16) { KeyBlocksPerUpdate = 2 }.Attend(q, k, v, lengths, map);
        var perBlock = new SageAttention(64, 64, PvPrecision.Fp16).Attend(q, k, v, lengths, map);
        double l1 = AttentionMetrics.RelativeL1(paired, perBlock);
        TestContext.Out.WriteLine($"paired against per-block updates, block-sparse, fp16 P: relative L1 {l1:E2}");
        Assert.That(l1, Is.LessThan(1e-4));
        Assert.That(paired.isnan().any().item<bool>(), Is.False);
        Assert.Throws<TurboException>(() => _ = new SageAttention { KeyBlocksPerUpdate = 3 });
    }

    /// <summary>
    /// The models hand attention views of token-major [B, L, H, D] tensors (the heads split off the projections): the
    /// reference must give exactly what it gives for contiguous copies, also at lengths that fill whole key blocks,
    /// where padding to whole blocks adds nothing and leaves the view's layout as it was.
    /// </summary>
    [TestCase(256, 1)]
    [TestCase(256, 2)]
    [TestCase(200, 2)]
    public void TokenMajorViewsGiveWhatContiguousInputsGive(int length, int keyBlocksPerUpdate)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (q, k, v) = AttentionMetrics.RandomQkv(batch: 2, heads: 3, length: length, dim: 64, seed: 31, qScale: 2, vOffset: 1);
        Tensor TokenMajor(Tensor x) => x.transpose(1, 2).contiguous().transpose(1, 2);
        var sage = new SageAttention(128, 64) { KeyBlocksPerUpdate = keyBlocksPerUpdate };
        var lengths = tensor(new long[] { length, length - 37 });
        var map = BlockSelection.Select(q, k, 0.5, 128, 64, lengths);
        Assert.That(TokenMajor(q).is_contiguous(), Is.False);
        Assert.That(AttentionMetrics.MaxRelative(sage.Attend(TokenMajor(q), TokenMajor(k), TokenMajor(v), lengths, map),
            sage.Attend(q, k, v, lengths, map)), Is.EqualTo(0));
        Assert.That(AttentionMetrics.MaxRelative(sage.Attend(TokenMajor(q), TokenMajor(k), TokenMajor(v)), sage.Attend(q, k, v)),
            Is.EqualTo(0));
    }

    [Test]
    public void LargeKeyOffsetsCostNoAccuracy()
    {
        // Without K smoothing, an offset of 40 on every key channel would take most of each INT8 block's range and
        // swamp the scores' quantization; smoothed, the error stays at the level of the unshifted keys.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (q, k, v) = AttentionMetrics.RandomQkv(1, 2, 200, 64, seed: 11);
        var shifted = k + 40 * ones(1, 2, 1, 64);
        var sage = new SageAttention(128, 64);
        double plain = AttentionMetrics.RelativeL1(sage.Attend(q, k, v), new DenseAttention().Attend(q, k, v));
        double offset = AttentionMetrics.RelativeL1(sage.Attend(q, shifted, v), new DenseAttention().Attend(q, shifted, v));
        TestContext.Out.WriteLine($"relative L1: keys {plain:P3}, keys + 40 {offset:P3}");
        Assert.That(offset, Is.LessThan(plain * 1.5));
    }

    [Test]
    public void Bf16InputGivesBf16OutputCloseToDense()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (q, k, v) = AttentionMetrics.RandomQkv(1, 2, 130, 128, seed: 5, dtype: ScalarType.BFloat16);
        var sage = new SageAttention().Attend(q, k, v);
        var reference = new DenseAttention().Attend(q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32));
        Assert.That(sage.dtype, Is.EqualTo(ScalarType.BFloat16));
        Assert.That(AttentionMetrics.Cosine(sage, reference), Is.GreaterThanOrEqualTo(MinCosine));
    }

    [Test]
    public void TrainingThroughSageIsRefused()
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = AttentionMetrics.RandomQkv(1, 1, 64, 64, seed: 1);
        q.requires_grad_(true);
        var error = Assert.Throws<TurboException>(() => new SageAttention().Attend(q, k, v));
        Assert.That(error!.Message, Does.Contain("forward-only"));
        using var noGrad = no_grad();
        Assert.DoesNotThrow(() => new SageAttention().Attend(q, k, v));
    }
}
