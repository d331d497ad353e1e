using static TorchSharp.torch;

namespace Turbo.Runtime.Attention;

/// <summary>
/// Floating-point operations of one attention call, for rates in benchmarks: a multiply-add counts 2. Dense attention
/// is q·kᵀ plus P·V, 4·Lq·Lk·D per (batch, head) (softmax not counted, as flash-attention benchmarks count it);
/// that is also the "dense-equivalent" work a sparse call is credited with when its rate is compared to dense.
/// </summary>
public static class AttentionFlops
{
    public static double Dense(long batch, long heads, long queries, long keys, long headDim) =>
        4.0 * batch * heads * queries * keys * headDim;

    /// <summary>
    /// Work of the block-sparse softmax branch: 4·D per (query, key) pair inside the kept blocks (blockMap bool
    /// [B, H, ⌈Lq/blockQ⌉, ⌈Lk/blockK⌉]), partial last blocks counted at their real sizes, keys past the key lengths
    /// (long [B], or null) not counted.
    /// </summary>
    public static double BlockSparse(Tensor blockMap, int blockQ, int blockK, long queries, long keys, long headDim,
        long[]? keyLengths = null)
    {
        using var scope = NewDisposeScope();
        var (batch, queryBlocks, keyBlocks) = (blockMap.shape[0], blockMap.shape[2], blockMap.shape[3]);
        var rows = BlockSizes(queryBlocks, blockQ, [queries]).view(1, 1, queryBlocks, 1);
        var lengths = keyLengths ?? Enumerable.Repeat(keys, (int)batch).ToArray();
        var columns = BlockSizes(keyBlocks, blockK, lengths).view(batch, 1, 1, keyBlocks);
        var pairs = (blockMap.to(ScalarType.Float64, CPU) * rows * columns).sum().item<double>();
        return 4.0 * headDim * pairs;
    }

    /// <summary>
    /// Work of SLA's linear branch and proj_l per call: φ(k)ᵀv (2·Lk·D²), φ(q)·that (2·Lq·D²), the normaliser
    /// φ(q)·Σφ(k) (2·Lq·D) and proj_l (2·Lq·D²), per (batch, head); the softmaxes of φ not counted.
    /// </summary>
    public static double LinearBranch(long batch, long heads, long queries, long keys, long headDim) =>
        batch * heads * (2.0 * keys * headDim * headDim + 4.0 * queries * headDim * headDim + 2.0 * queries * headDim);

    /// <summary>Tokens each block holds, per sample: [samples, blocks] float64 (blocks of `block` tokens up to each length).</summary>
    static Tensor BlockSizes(long blocks, int block, long[] lengths)
    {
        var sizes = new double[lengths.Length * blocks];
        for (int b = 0; b < lengths.Length; b++)
            for (long j = 0; j < blocks; j++)
                sizes[b * blocks + j] = Math.Clamp(lengths[b] - j * block, 0, block);
        return tensor(sizes, dtype: ScalarType.Float64).view(lengths.Length, blocks);
    }
}
