using Turbo.Runtime.Attention;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Cli.Attention;

/// <summary>
/// The quantized-attention kernels against their TorchSharp references on fresh random inputs, outputs poisoned with
/// NaN: each preparation pass, then Sage attention and SageSLA whole, over odd lengths (1, 77, 1001, 4097: partial
/// blocks, single-row blocks), head dims 64 and 128 (and 40, zero-padded), with and without key lengths, both tile
/// shapes and every P·V format (BF16 from the caller's v as it is, and through its pass for other dtypes), token-major
/// and contiguous layouts, and scores rising along the keys (a running row max raised again and again). Where the
/// warpgroup (wgmma) kernel runs, the shapes it takes are checked on both kernels.
/// </summary>
static class AttentionParity
{
    static readonly long[] Lengths = [1, 77, 1001, 4097];
    static readonly (int BlockQ, int BlockK, PvPrecision Pv)[] Tiles =
        [(128, 64, PvPrecision.Fp8E4M3), (64, 128, PvPrecision.Fp16), (128, 64, PvPrecision.Bf16)];
    const long Batch = 2, Heads = 3;
    const double Rise = 2.5;  // scores rising by about 40 (log2 units) over the keys: AttentionSamples.Qkv

    public static List<StageAgreement> Stages(Device device)
    {
        var results = new List<StageAgreement>();
        results.AddRange(StageCase(1001, 128, masked: true, blockQ: 128, blockK: 64, device));
        results.AddRange(StageCase(77, 64, masked: false, blockQ: 64, blockK: 128, device));
        results.AddRange(StageCase(333, 64, masked: true, blockQ: 128, blockK: 64, device, unalignedRows: true));
        results.AddRange(WideSelection(device));
        return results;
    }

    /// <summary>
    /// The selection kernel on rows wider than the default shared memory holds (13,000 key blocks of 64: one row per
    /// block, with the opt-in to more shared memory), on random and on tied scores, with and without a key length.
    /// </summary>
    static IEnumerable<StageAgreement> WideSelection(Device device)
    {
        using var scope = NewDisposeScope();
        const int blockK = 64;
        const long keyBlocks = 13_000, keys = keyBlocks * blockK;
        var scores = randn([1, 2, 8, keyBlocks], device: device);
        var tied = (scores * 2).round() / 2;
        var length = tensor(new long[] { 500_001 }, device: device);
        foreach (var (kind, s) in new[] { ("", scores), (" (tied scores)", tied) })
            foreach (var lengths in new[] { null, length })
                yield return CompareKeptLists($"top-k lists{kind} top-k 0.1", $"{keyBlocks:N0} key blocks{(lengths is null ? "" : " masked")}",
                    BlockSelection.Keep(s, 0.1, blockK, keys, lengths),
                    SageKernels.TopBlockLists(s, lengths?.to(ScalarType.Int32), keys, blockK, 0.1));
    }

    /// <param name="unalignedRows">inputs whose rows are views into wider ones (odd strides), so that the passes take their
    /// element-by-element loads instead of 16-byte ones</param>
    static IEnumerable<StageAgreement> StageCase(long length, long dim, bool masked, int blockQ, int blockK, Device device,
        bool unalignedRows = false)
    {
        using var scope = NewDisposeScope();
        string name = $"L {length} D {dim}{(masked ? " masked" : "")} {blockQ}×{blockK}{(unalignedRows ? " unaligned rows" : "")}";
        long width = unalignedRows ? dim + 1 : dim;
        var (q, k, v) = AttentionSamples.Qkv(Batch, Heads, length, length, width, ScalarType.BFloat16, tokenMajor: true, device);
        if (unalignedRows) (q, k, v) = (q.narrow(3, 0, dim), k.narrow(3, 0, dim), v.narrow(3, 0, dim));
        var keyLengths = masked ? AttentionSamples.KeyLengths(Batch, length, device) : null;
        var lengths32 = keyLengths?.to(ScalarType.Int32);
        long[] hostLengths = AttentionInputs.HostLengths(keyLengths, Batch, length);
        var valid = keyLengths is null ? null : AttentionInputs.KeyMask(keyLengths, length, device).view(Batch, 1, length, 1).to(ScalarType.Float32);

        var (qCodes, qScales, qPooled) = SageKernels.QuantizeBlocks(q, blockQ, pool: true);
        var (qRef, qRefScales) = Int8BlockQuantizer.Quantize(q, blockQ);
        yield return AgreementRules.CompareBuffer("q INT8 codes", name, qCodes, qRef, tolerance: 0, maxAbs: 0);
        yield return AgreementRules.CompareRelative("q scales", name, qScales, qRefScales, 0);

        var mean = SageKernels.TokenMean(k, lengths32);
        var kFloat = k.to(ScalarType.Float32);
        var counts = tensor(hostLengths.Select(n => (double)n).ToArray(), device: device).view(Batch, 1, 1);
        var meanRef = ((valid is null ? kFloat : kFloat * valid).sum([2L], type: ScalarType.Float64) / counts).to(ScalarType.Float32);
        yield return AgreementRules.CompareRelative("k mean", name, mean, meanRef, 1e-6);

        // Both means are float64 sums rounded once, so the codes match; a sum too wide for float64 to hold exactly
        // could leave one in a million a step apart.
        var (kCodes, kScales, kPooled) = SageKernels.QuantizeBlocks(k, blockK, mean, lengths32, pool: true);
        var (kRef, kRefScales) = Int8BlockQuantizer.Quantize(BlockSelection.SmoothK(kFloat, valid, hostLengths), blockK);
        yield return AgreementRules.CompareBuffer("k INT8 codes (smoothed)", name, kCodes, kRef, tolerance: 1e-6, maxAbs: 1);
        yield return AgreementRules.CompareRelative("k scales", name, kScales, kRefScales, 1e-6);

        var vFloat = valid is null ? v.to(ScalarType.Float32) : v.to(ScalarType.Float32) * valid;
        var e4m3Scales = SageKernels.E4M3Scales(v, lengths32);
        var (vRef, vRefScales) = SageAttention.QuantizeValues(vFloat, PvPrecision.Fp8E4M3);
        yield return AgreementRules.CompareRelative("v E4M3 scales", name, e4m3Scales, vRefScales, 0);
        yield return AgreementRules.CompareBuffer("v E4M3 values", name, SageKernels.PrepareValues(v, blockK, lengths32, e4m3Scales),
            vRef, tolerance: 0, maxAbs: 0);
        // SLA's key side gives the same statistics from its own pass over k and v.
        if (SlaLinearKernels.Supports(k))
        {
            var side = SlaLinearKernels.KeySums(k, v, keyLengths, KeySideStats.KeyMeanAndValueScales);
            yield return AgreementRules.CompareRelative("k mean (SLA key side)", name, side.KeyMean!, meanRef, 1e-6);
            yield return AgreementRules.CompareRelative("v E4M3 scales (SLA key side)", name, side.ValueScales!, vRefScales, 0);
            var meanOnly = SlaLinearKernels.KeySums(k, v, keyLengths, KeySideStats.KeyMean);
            yield return AgreementRules.CompareRelative("k mean (SLA key side, mean alone)", name, meanOnly.KeyMean!, meanRef, 1e-6);
        }
        var (vHalf, _) = SageAttention.QuantizeValues(vFloat, PvPrecision.Fp16);
        yield return AgreementRules.CompareBuffer("v FP16 values", name, SageKernels.PrepareValues(v, blockK, lengths32, null),
            vHalf, tolerance: 0, maxAbs: 0);
        var (vBf16, _) = SageAttention.QuantizeValues(vFloat, PvPrecision.Bf16);
        yield return AgreementRules.CompareBuffer("v BF16 values", name,
            SageKernels.PrepareValues(v, blockK, lengths32, null, ScalarType.BFloat16), vBf16, tolerance: 0, maxAbs: 0);

        var map = BlockSelection.Select(q, k, 0.3, blockQ, blockK, keyLengths);
        yield return CompareKeptLists("kept-block lists", name, map, SageKernels.KeptBlockLists(map));

        // SLA's selection: the pooled blocks the quantizer gives (float32 sums in another order than torch's), then the
        // selection kernel against BlockSelection.Keep on the same scores — exactly, also where many scores tie.
        var (qPooledRef, kPooledRef) = BlockSelection.Pool(q, k, blockQ, blockK, keyLengths);
        yield return AgreementRules.CompareRelative("q pooled blocks", name, qPooled!, qPooledRef, 1e-5);
        yield return AgreementRules.CompareRelative("k pooled blocks (smoothed)", name, kPooled!, kPooledRef, 1e-5, scaleOf: kFloat);
        var scores = qPooled!.matmul(kPooled!.transpose(-1, -2));
        var tied = (scores * 2).round() / 2;
        foreach (var (kind, s, topK) in new[] { ("", scores, 0.3), (" (tied scores)", tied, 0.3), (" (tied scores)", tied, 0.05) })
            yield return CompareKeptLists($"top-k lists{kind} top-k {topK}", name, BlockSelection.Keep(s, topK, blockK, length, keyLengths),
                SageKernels.TopBlockLists(s, lengths32, length, blockK, topK));
    }

    /// <summary>A kernel's kept-block lists against the map's true positions, read on the host.</summary>
    static StageAgreement CompareKeptLists(string stage, string name, Tensor map, (Tensor Indices, Tensor Counts, int MaxKept) lists)
    {
        var (indices, counts, maxKept) = lists;
        long rows = map.shape[0] * map.shape[1] * map.shape[2];
        int keyBlocks = (int)map.shape[3];
        bool[] flags = map.cpu().data<bool>().ToArray();
        int[] gotIndices = indices.cpu().data<int>().ToArray(), gotCounts = counts.cpu().data<int>().ToArray();
        long wrongRows = 0;
        for (long row = 0; row < rows; row++)
        {
            int[] expected = Enumerable.Range(0, keyBlocks).Where(j => flags[row * keyBlocks + j]).ToArray();
            bool same = gotCounts[row] == expected.Length
                        && expected.Select((j, i) => gotIndices[row * maxKept + i] == j).All(x => x);
            if (!same) wrongRows++;
        }
        return new StageAgreement(stage, name, "mismatched", wrongRows / (double)rows, wrongRows, 0, wrongRows == 0);
    }

    public static List<KernelAgreement> Sage(Device device)
    {
        var results = new List<KernelAgreement>();
        int index = 0;
        foreach (long length in Lengths)
            foreach (long dim in new long[] { 64, 128 })
                foreach (bool masked in new[] { false, true })
                    foreach (var tile in Tiles)
                    {
                        bool tokenMajor = index++ % 2 == 0;
                        results.Add(SageCase(length, length, dim, masked, tile, ScalarType.BFloat16, tokenMajor, device));
                        if (SageKernels.AutoIsWgmma(dim, tile.BlockQ, tile.BlockK))
                            results.Add(SageCase(length, length, dim, masked, tile, ScalarType.BFloat16, tokenMajor, device, SageKernel.Mma));
                    }
        results.Add(SageCase(77, 1001, 128, true, (64, 64, PvPrecision.Fp8E4M3), ScalarType.BFloat16, true, device));
        results.Add(SageCase(1001, 1001, 128, false, (128, 128, PvPrecision.Fp16), ScalarType.Float16, true, device));
        results.Add(SageCase(1001, 1001, 64, true, (128, 64, PvPrecision.Fp8E4M3), ScalarType.Float32, false, device));
        results.Add(SageCase(4097, 4097, 128, true, (128, 64, PvPrecision.Fp16), ScalarType.Float16, false, device));
        results.Add(SageCase(333, 333, 40, true, (128, 64, PvPrecision.Fp8E4M3), ScalarType.BFloat16, true, device));
        // BF16 P·V from inputs the kernel cannot read as they are: V converted by its pass first.
        results.Add(SageCase(1001, 1001, 128, true, (128, 64, PvPrecision.Bf16), ScalarType.Float16, true, device));
        results.Add(SageCase(77, 1001, 64, true, (64, 64, PvPrecision.Bf16), ScalarType.Float32, false, device));
        // 402 query blocks: the persistent kernel's CTAs each take three or four, one after the other.
        results.Add(SageCase(8447, 8447, 128, true, (128, 64, PvPrecision.Fp8E4M3), ScalarType.BFloat16, true, device));
        results.Add(SageCase(8447, 8447, 128, true, (128, 64, PvPrecision.Bf16), ScalarType.BFloat16, true, device));
        // Scores rising along the keys: the kernels' 16-bit P first taken against the kept row max must fall back to the
        // exact test where scores near the slack, and raise the max where they pass it, as the reference does.
        foreach (var pv in new[] { PvPrecision.Bf16, PvPrecision.Fp16 })
            results.Add(SageCase(8447, 8447, 128, pv == PvPrecision.Fp16, (128, 64, pv), ScalarType.BFloat16, true, device, rise: Rise));
        return results;
    }

    /// <summary>One case on the kernel <paramref name="kernel"/> asks for (Auto: the one the models get), named after the kernel that ran.</summary>
    static KernelAgreement SageCase(long queries, long keys, long dim, bool masked, (int BlockQ, int BlockK, PvPrecision Pv) tile,
        ScalarType dtype, bool tokenMajor, Device device, SageKernel kernel = SageKernel.Auto, double rise = 0)
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = AttentionSamples.Qkv(Batch, Heads, queries, keys, dim, dtype, tokenMajor, device, rise);
        var keyLengths = masked ? AttentionSamples.KeyLengths(Batch, keys, device) : null;
        var backend = new NativeSageAttention(tile.BlockQ, tile.BlockK, tile.Pv);
        var native = backend.AttendNative(q, k, v, keyLengths, kernel: kernel);
        var reference = backend.ReferenceFor(dim, kernel).Attend(q, k, v, keyLengths);
        return AgreementRules.Compare(backend.RunsWgmma(dim, kernel) ? "Sage wgmma" : "Sage mma", CaseName(queries, keys, dim, masked, tile, tokenMajor, rise), native, reference,
            AttentionSamples.ExactDense(q, k, v, keyLengths));
    }

    public static List<KernelAgreement> SageSla(Device device)
    {
        var results = new List<KernelAgreement>();
        int index = 0;
        foreach (long length in Lengths)
            foreach (long dim in new long[] { 64, 128 })
                foreach (bool masked in new[] { false, true })
                {
                    var tile = Tiles[index % Tiles.Length];
                    double topK = index / 2 % 2 == 0 ? 0.1 : 0.5;
                    results.Add(SlaCase(length, dim, masked, tile, topK, tokenMajor: index++ % 3 != 0, device));
                }
        foreach (var tile in new[] { Tiles[0], Tiles[2] })
            results.Add(SlaCase(8447, 128, true, tile, 0.1, tokenMajor: true, device));  // several query blocks per CTA
        foreach (var pv in new[] { PvPrecision.Bf16, PvPrecision.Fp16 })  // the kept blocks' scores rising, as in Sage above
            results.Add(SlaCase(8447, 128, false, (128, 64, pv), 0.1, tokenMajor: true, device, rise: Rise));
        return results;
    }

    /// <summary>
    /// SageSLA with a random proj_l, the sparse branch on the kernel vs on the reference (block selection and linear
    /// branch are the same code in both); judged against float32 SLA (exact block-sparse softmax) with the same proj_l.
    /// </summary>
    static KernelAgreement SlaCase(long length, long dim, bool masked, (int BlockQ, int BlockK, PvPrecision Pv) tile,
        double topK, bool tokenMajor, Device device, double rise = 0)
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = AttentionSamples.Qkv(Batch, Heads, length, length, dim, ScalarType.BFloat16, tokenMajor, device, rise);
        var keyLengths = masked ? AttentionSamples.KeyLengths(Batch, length, device) : null;
        var config = new AttentionConfig { Kind = AttentionKind.SageSla, TopK = topK, BlockQ = tile.BlockQ, BlockK = tile.BlockK, PvPrecision = tile.Pv };
        using var sageSla = new SparseLinearAttention((int)dim, config, device);
        using var sla = new SparseLinearAttention((int)dim, config with { Kind = AttentionKind.Sla }, device);
        using (no_grad())
        {
            var weight = randn([dim, dim], device: device) * 0.2;
            var bias = randn([dim], device: device) * 0.2;
            foreach (var module in new[] { sageSla, sla })
                foreach (var (name, parameter) in module.named_parameters())
                    parameter.copy_(name.EndsWith("weight") ? weight : bias);
        }
        Tensor native, reference;
        NativeSageAttention.Enabled = false;
        try { reference = sageSla.Attend(q, k, v, keyLengths); }
        finally { NativeSageAttention.Enabled = true; }
        native = sageSla.Attend(q, k, v, keyLengths);
        var exact = sla.Attend(q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32), keyLengths);
        return AgreementRules.Compare("SageSLA", CaseName(length, length, dim, masked, tile, tokenMajor, rise) + $" top-k {topK}",
            native, reference, exact);
    }

    /// <summary>
    /// SLA's linear branch alone (<see cref="SparseLinearAttention.FoldedLinearBranch"/>) with a random proj_l and a
    /// random sparse output in the attention kernel's token-major layout: the fused kernels vs the torch ops, both
    /// 16-bit dtypes, judged against the same branch in float32.
    /// </summary>
    public static List<KernelAgreement> SlaLinear(Device device)
    {
        var results = new List<KernelAgreement>();
        int index = 0;
        foreach (long length in Lengths)
            foreach (long dim in new long[] { 64, 128 })
            {
                var dtype = index % 2 == 0 ? ScalarType.BFloat16 : ScalarType.Float16;
                results.Add(SlaLinearCase(length, dim, masked: index % 3 == 1, dtype, tokenMajor: index++ % 4 != 3, device));
            }
        return results;
    }

    static KernelAgreement SlaLinearCase(long length, long dim, bool masked, ScalarType dtype, bool tokenMajor, Device device)
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = AttentionSamples.Qkv(Batch, Heads, length, length, dim, dtype, tokenMajor, device);
        var keyLengths = masked ? AttentionSamples.KeyLengths(Batch, length, device) : null;
        var weight = randn([dim, dim], device: device) * 0.2;
        var bias = randn([dim], device: device) * 0.2;
        var sparse = randn([Batch, length, Heads, dim], device: device).to(dtype).transpose(1, 2);
        var exact = SparseLinearAttention.FoldedLinearBranch(q.to(ScalarType.Float32), k.to(ScalarType.Float32),
            v.to(ScalarType.Float32), keyLengths, weight, bias, sparse.to(ScalarType.Float32));
        Tensor reference;
        NativeSageAttention.Enabled = false;
        try { reference = SparseLinearAttention.FoldedLinearBranch(q, k, v, keyLengths, weight, bias, sparse.clone()); }
        finally { NativeSageAttention.Enabled = true; }
        var native = SparseLinearAttention.FoldedLinearBranch(q, k, v, keyLengths, weight, bias, sparse);
        string name = $"L {length} D {dim}{(masked ? " masked" : "")}{(tokenMajor ? " token-major" : "")}";
        return AgreementRules.Compare(SlaLinearKernels.Supports(q) ? "SLA linear (fused)" : "SLA linear (NOT RUN)", name, native, reference, exact);
    }

    static string CaseName(long queries, long keys, long dim, bool masked, (int BlockQ, int BlockK, PvPrecision Pv) tile, bool tokenMajor,
        double rise = 0) =>
        (queries == keys ? $"L {queries}" : $"Lq {queries} Lk {keys}") + $" D {dim}{(masked ? " masked" : "")} " +
        $"{tile.BlockQ}×{tile.BlockK} {PvLabels.Of(tile.Pv)}{(tokenMajor ? " token-major" : "")}{(rise != 0 ? " rising scores" : "")}";
}
