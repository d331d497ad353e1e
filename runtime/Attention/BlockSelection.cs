using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Runtime.Attention;

/// <summary>
/// SLA's choice of key blocks (upstream <c>SLA/utils.py::get_block_map</c>): per (batch, head), K is smoothed (its mean
/// over the tokens subtracted, which softmax ignores but which removes the channel offsets that would dominate the
/// pooled scores), Q and smoothed K are mean-pooled into blocks of BlockQ / BlockK tokens (a shorter last block is
/// averaged over the tokens it has), the pooled blocks are scored pool(Q)·pool(K)ᵀ, and each query block keeps its
/// <see cref="KeptBlocks"/> highest-scoring key blocks. All queries of a block share the selection.
/// </summary>
public static class BlockSelection
{
    /// <summary>
    /// Key blocks kept per query block: max(1, ⌊topK · n⌋) for n key blocks. Upstream computes int(topK · n) (the
    /// same truncation, in the same double arithmetic) but would keep none when that is 0; one block is kept instead,
    /// so every query attends to something. With key lengths, n counts the blocks that hold at least one key.
    /// </summary>
    public static long KeptBlocks(double topK, long keyBlocks) =>
        Math.Clamp((long)Math.Floor(topK * keyBlocks), 1, keyBlocks);

    /// <summary>
    /// q [B, H, Lq, D], k [B, H, Lk, D] → bool [B, H, ⌈Lq/blockQ⌉, ⌈Lk/blockK⌉], true for the kept (query block, key
    /// block) pairs: <see cref="Pool"/>, the pooled scores, then <see cref="Keep"/>. Computed without autograd (a
    /// selection has no gradient), in float32 (float64 for float64 input).
    /// </summary>
    public static Tensor Select(Tensor q, Tensor k, double topK, int blockQ, int blockK, Tensor? keyLengths = null)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long[] lengths = AttentionInputs.HostLengths(keyLengths, q.shape[0], k.shape[2]);   // read once, for both steps
        Tensor pooledQ, pooledK, scores;
        using (CudaProfiler.Scope("self-attention/selection: pooling"))
            (pooledQ, pooledK) = Pool(q, k, blockQ, blockK, keyLengths, lengths);
        using (CudaProfiler.Scope("self-attention/selection: scores"))
            scores = pooledQ.matmul(pooledK.transpose(-1, -2));                                      // [B, H, nQ, nK]
        using (CudaProfiler.Scope("self-attention/selection: top-k"))
            return Keep(scores, topK, blockK, keyLengths is null ? null : lengths).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The pooled blocks: q's block means [B, H, ⌈Lq/blockQ⌉, D] and smoothed k's [B, H, ⌈Lk/blockK⌉, D], over the
    /// tokens a block holds (the valid keys only; a block without any pools to 0), float32 (float64 for float64 input).
    /// K is smoothed after pooling — the mean of a block of smoothed keys is the block's mean minus K's mean — so the
    /// only passes over the tokens are one sum per block of q and of k, accumulated in float32 from the input's dtype.
    /// </summary>
    public static (Tensor PooledQ, Tensor PooledK) Pool(Tensor q, Tensor k, int blockQ, int blockK, Tensor? keyLengths = null) =>
        Pool(q, k, blockQ, blockK, keyLengths, AttentionInputs.HostLengths(keyLengths, q.shape[0], k.shape[2]));

    /// <summary><see cref="Pool(Tensor, Tensor, int, int, Tensor?)"/> with the key lengths already read to the host.</summary>
    static (Tensor PooledQ, Tensor PooledK) Pool(Tensor q, Tensor k, int blockQ, int blockK, Tensor? keyLengths, long[] lengths)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var dtype = q.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var (batch, keys) = (q.shape[0], k.shape[2]);
        var pooledQ = BlockSums(q, blockQ, dtype) / TokenCounts(null, q.shape[2], blockQ, q.device, dtype).clamp_min(1);
        var validKeys = keyLengths is null ? null : AttentionInputs.KeyMask(keyLengths, keys, q.device).view(batch, 1, keys, 1);
        var keySums = BlockSums(validKeys is null ? k : k * validKeys.to(k.dtype), blockK, dtype);   // [B, H, nK, D]
        var keyCounts = TokenCounts(validKeys, keys, blockK, q.device, dtype);                       // [B or 1, 1, nK, 1]
        var pooledK = keySums / keyCounts.clamp_min(1) - KeyMean(keySums, lengths, dtype);
        if (validKeys is not null) pooledK = pooledK * keyCounts.gt(0).to(dtype);
        return (pooledQ.MoveToOuterDisposeScope(), pooledK.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Pooled scores [B, H, nQ, nK] → the block map: each row keeps its <see cref="KeptBlocks"/> highest-scoring key
    /// blocks among those that hold a valid key (the first ⌈length/blockK⌉), equal scores going to the lower index — a
    /// definition that does not depend on how a sort breaks ties, so the CUDA selection can equal it exactly.
    /// </summary>
    public static Tensor Keep(Tensor scores, double topK, int blockK, long keys, Tensor? keyLengths = null) =>
        Keep(scores, topK, blockK, keyLengths is null ? null : AttentionInputs.HostLengths(keyLengths, scores.shape[0], keys));

    /// <summary><see cref="Keep(Tensor, double, int, long, Tensor?)"/> with the key lengths on the host (null: none).</summary>
    static Tensor Keep(Tensor scores, double topK, int blockK, long[]? lengths)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long keyBlocks = scores.shape[3];
        // Without key lengths every row keeps the same number of blocks: no host data goes to the device (a copy from
        // pageable host memory would wait for the GPU), so the forward pass keeps the GPU's queue full.
        if (lengths is null) return Highest(scores, KeptBlocks(topK, keyBlocks)).MoveToOuterDisposeScope();

        long batch = scores.shape[0];
        var blockStarts = arange(keyBlocks, dtype: ScalarType.Int64, device: scores.device) * blockK;
        var lengthColumn = tensor(lengths, device: scores.device).view(batch, 1, 1, 1);
        var beyond = blockStarts.view(1, 1, 1, keyBlocks).ge(lengthColumn);                         // blocks without valid keys
        var rank = Ranks(scores.masked_fill(beyond, double.NegativeInfinity));
        var kept = tensor(lengths.Select(n => KeptBlocks(topK, (n + blockK - 1) / blockK)).ToArray(), device: scores.device);
        return rank.lt(kept.view(batch, 1, 1, 1)).MoveToOuterDisposeScope();
    }

    /// <summary>True at the <paramref name="count"/> highest scores of each row (ties: the lower index first).</summary>
    static Tensor Highest(Tensor scores, long count)
    {
        var (values, order) = scores.sort(-1, descending: true, stable: true);
        using (values)
        using (order)
        using (var indices = order.narrow(-1, 0, count))
        using (var chosen = ones(indices.shape, ScalarType.Bool, scores.device))
            return zeros(scores.shape, ScalarType.Bool, scores.device).scatter_(-1, indices, chosen);
    }

    /// <summary>Each score's place in its row, highest first (0 = the best block; ties: the lower index first).</summary>
    static Tensor Ranks(Tensor scores)
    {
        var (values, order) = scores.sort(-1, descending: true, stable: true);
        using (values)
        using (order)
            return order.argsort(-1);
    }

    /// <summary>K's mean over the valid tokens [B, H, 1, D] from its block sums (summed in float64: no order effects).</summary>
    static Tensor KeyMean(Tensor keySums, long[] lengths, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var sums = keySums.sum([2L], keepdim: true, type: ScalarType.Float64);
        var mean = lengths.Distinct().Count() == 1
            ? sums / lengths[0]
            : sums / tensor(lengths.Select(n => (double)n).ToArray(), dtype: ScalarType.Float64, device: keySums.device).view(-1, 1, 1, 1);
        return mean.to(dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// K minus its mean over the valid tokens of each (batch, head), with the tokens past a key length set to 0.
    /// <paramref name="validKeys"/> is [B, 1, Lk, 1] (1 = valid) or null when every key is valid. The mean is summed
    /// in float64 and then rounded to k's dtype: for activations that sum is exact, so the mean does not depend on the
    /// summation order and the CUDA kernel's equals it.
    /// </summary>
    public static Tensor SmoothK(Tensor k, Tensor? validKeys, long[] lengths)
    {
        using var scope = NewDisposeScope();
        var counts = tensor(lengths.Select(n => (double)n).ToArray(), dtype: ScalarType.Float64, device: k.device).view(-1, 1, 1, 1);
        var sums = (validKeys is null ? k : k * validKeys).sum([2L], keepdim: true, type: ScalarType.Float64);
        var centred = k - (sums / counts).to(k.dtype);
        return (validKeys is null ? centred : centred * validKeys).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// x [B, H, L, D] → per-block sums [B, H, ⌈L/block⌉, D] in <paramref name="dtype"/> (a shorter last block sums what
    /// it has). The whole blocks are summed through a view (no copy, whatever x's strides), the rest on its own.
    /// </summary>
    static Tensor BlockSums(Tensor x, int block, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var (b, h, length, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
        long whole = length / block, rest = length - whole * block;
        var sums = whole == 0 ? null : x.narrow(2, 0, whole * block).view(b, h, whole, block, d).sum([3L], type: dtype);
        var last = rest == 0 ? null : x.narrow(2, whole * block, rest).sum([2L], keepdim: true, type: dtype);
        var result = sums is null ? last! : last is null ? sums : cat([sums, last], 2);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Tokens per block [B or 1, 1, ⌈L/block⌉, 1]: the valid ones when <paramref name="validKeys"/> [B, 1, L, 1] is given.</summary>
    static Tensor TokenCounts(Tensor? validKeys, long length, int block, Device device, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        long blocks = (length + block - 1) / block;
        var weights = validKeys?.to(dtype) ?? ones(1, 1, length, 1, dtype: dtype, device: device);
        var padded = nn.functional.pad(weights, [0, 0, 0, blocks * block - length]);
        return padded.view(weights.shape[0], 1, blocks, block, 1).sum([3L]).MoveToOuterDisposeScope();
    }

    /// <summary>A block map [B, H, nQ, nK] → a per-query map [B, H, Lq, nK] (each query row takes its block's row).</summary>
    public static Tensor PerQuery(Tensor blockMap, int blockQ, long queries) =>
        blockMap.repeat_interleave(blockQ, 2).narrow(2, 0, queries);

    /// <summary>A block map [B, H, nQ, nK] → a token mask [B, H, Lq, Lk].</summary>
    public static Tensor PerToken(Tensor blockMap, int blockQ, int blockK, long queries, long keys)
    {
        using var rows = PerQuery(blockMap, blockQ, queries);
        using var expanded = rows.repeat_interleave(blockK, 3);
        return expanded.narrow(3, 0, keys);
    }
}
