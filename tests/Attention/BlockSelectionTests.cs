using Turbo.Tests.Support;
using Turbo.Runtime.Attention;
using static TorchSharp.torch;

namespace Turbo.Tests.Attention;

/// <summary>SLA's key-block selection on inputs built so that the right answer is known.</summary>
public class BlockSelectionTests
{
    [TestCase(0.1, 512, 51)]   // TurboDiffusion at 480p: 512 key blocks of 64, 51 kept
    [TestCase(0.15, 20, 3)]
    [TestCase(0.29, 100, 28)]  // 0.29·100 = 28.999999999999996 in double: truncated like upstream's int()
    [TestCase(0.5, 7, 3)]
    [TestCase(1.0, 7, 7)]
    [TestCase(0.1, 4, 1)]      // ⌊0.4⌋ = 0: one block is kept anyway
    [TestCase(0.01, 1, 1)]
    public void KeptBlocksIsTruncatedTopKTimesBlocksButAtLeastOne(double topK, long blocks, long expected) =>
        Assert.That(BlockSelection.KeptBlocks(topK, blocks), Is.EqualTo(expected));

    /// <summary>
    /// 4 query and 4 key blocks of 16 tokens, 16 channels. Every token of key block j is 5·e_j (after smoothing:
    /// 5·e_j − 1.25·Σe); every token of query block i weighs channel (i+1)%4 by 3, (i+2)%4 by 2, (i+3)%4 by 1, so
    /// query block i ranks key blocks (i+1)%4, (i+2)%4, (i+3)%4, i. A large offset on every key proves the smoothing.
    /// </summary>
    static (Tensor Q, Tensor K) Constructed(double keyOffset)
    {
        var q = zeros(1, 1, 64, 16, dtype: ScalarType.Float64);
        var k = full(1, 1, 64, 16, keyOffset, dtype: ScalarType.Float64);
        for (int block = 0; block < 4; block++)
        {
            var rows = TensorIndex.Slice(block * 16, block * 16 + 16);
            var all = TensorIndex.Colon;
            k[all, all, rows, block] += 5.0;
            for (int rank = 1; rank <= 3; rank++)
                q[all, all, rows, (block + rank) % 4] = tensor(4.0 - rank, dtype: ScalarType.Float64);
        }
        return (q, k);
    }

    static bool[,] Map(Tensor blockMap)
    {
        var result = new bool[blockMap.shape[2], blockMap.shape[3]];
        for (int i = 0; i < result.GetLength(0); i++)
            for (int j = 0; j < result.GetLength(1); j++)
                result[i, j] = blockMap[0, 0, i, j].item<bool>();
        return result;
    }

    static bool[,] Expected(int kept)
    {
        var map = new bool[4, 4];
        for (int i = 0; i < 4; i++)
            for (int rank = 1; rank <= kept; rank++)
                map[i, (i + rank) % 4] = true;
        return map;
    }

    [TestCase(0.25, 1)]
    [TestCase(0.5, 2)]
    [TestCase(0.7, 2)]
    [TestCase(0.75, 3)]
    public void EachQueryBlockKeepsItsHighestScoringKeyBlocks(double topK, int kept)
    {
        using var scope = NewDisposeScope();
        var (q, k) = Constructed(keyOffset: 30);
        using var map = BlockSelection.Select(q, k, topK, 16, 16);
        Assert.That(map.shape, Is.EqualTo(new long[] { 1, 1, 4, 4 }));
        Assert.That(Map(map), Is.EqualTo(Expected(kept)));
    }

    [Test]
    public void KeysPastTheLengthAreNeverChosenAndCountTheBlocksThatRemain()
    {
        // 40 valid keys: blocks 0, 1 and 2 (partial) hold keys, block 3 none. Top-k 0.5 keeps ⌊1.5⌋ = 1 block.
        // Block 3's keys are made the best match for every query: they must still be ignored.
        using var scope = NewDisposeScope();
        var (q, k) = Constructed(keyOffset: 0);
        k[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(48, 64)] = full(1, 1, 16, 16, 100.0, dtype: ScalarType.Float64);
        using var lengths = tensor(new long[] { 40 });
        using var map = BlockSelection.Select(q, k, 0.5, 16, 16, lengths);
        var chosen = Map(map);
        for (int i = 0; i < 4; i++)
        {
            Assert.That(chosen[i, 3], Is.False, $"query block {i} chose the block past the length");
            Assert.That(Enumerable.Range(0, 4).Count(j => chosen[i, j]), Is.EqualTo(1), $"query block {i}");
        }
        // Query block 0 ranks 1, 2, 3, 0: block 1 is its best valid one; block 2 (the partial one, mean of its 8 keys) for query block 1.
        Assert.That(chosen[0, 1] && chosen[1, 2] && chosen[2, 0], Is.True);
    }

    [Test]
    public void PartialLastBlocksAreAveragedOverTheTokensTheyHold()
    {
        // 36 keys in blocks of 16: e_1 ×16, −e_1 ×16, 3·e_0 ×4. Smoothed (mean e_0/3), the blocks pool to
        // e_1 − e_0/3, −e_1 − e_0/3 and 8/3·e_0; a query e_0 + 1.5·e_1 scores them 7/6, −11/6, 8/3 and keeps the last.
        // Had the 12 padding rows counted in its mean, the last block would score 2/3 and lose to the first.
        using var scope = NewDisposeScope();
        var all = TensorIndex.Colon;
        var k = zeros(1, 1, 36, 16, dtype: ScalarType.Float64);
        k[all, all, TensorIndex.Slice(0, 16), 1] = tensor(1.0, dtype: ScalarType.Float64);
        k[all, all, TensorIndex.Slice(16, 32), 1] = tensor(-1.0, dtype: ScalarType.Float64);
        k[all, all, TensorIndex.Slice(32, 36), 0] = tensor(3.0, dtype: ScalarType.Float64);
        var q = zeros(1, 1, 16, 16, dtype: ScalarType.Float64);
        q[all, all, all, 0] = tensor(1.0, dtype: ScalarType.Float64);
        q[all, all, all, 1] = tensor(1.5, dtype: ScalarType.Float64);
        using var map = BlockSelection.Select(q, k, 0.34, 16, 16);
        Assert.That(Map(map), Is.EqualTo(new[,] { { false, false, true } }));
    }

    [TestCase(333, 0.1)]
    [TestCase(256, 0.3)]
    public void WithoutKeyLengthsTheSelectionIsThatOfFullLengths(int length, double topK)
    {
        // The path without key lengths takes no host data; it must choose what full-length key lengths choose. q and
        // k come as the models give them: head-major views of token-major tensors (not contiguous).
        using var scope = NewDisposeScope();
        var generator = manual_seed(length);
        var q = randn([2, length, 3, 64], generator: generator).transpose(1, 2);
        var k = (randn([2, length, 3, 64], generator: generator) + 2).transpose(1, 2);
        using var without = BlockSelection.Select(q, k, topK, 32, 16);
        using var full = BlockSelection.Select(q, k, topK, 32, 16, tensor(new long[] { length, length }));
        Assert.That(without.eq(full).all().item<bool>(), Is.True);
        Assert.That(without.sum([3L]).eq(BlockSelection.KeptBlocks(topK, (length + 15) / 16)).all().item<bool>(), Is.True);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void EqualScoresGoToTheLowerIndex(bool withKeyLengths)
    {
        // Scores 1, 0, 1, 1, 0, 1, 0 (ties at both values); keeping 3 of 7 takes blocks 0, 2 and 3, not 5. With key
        // lengths covering 6 blocks, ⌊0.5·6⌋ = 3 as well: the same choice among the valid blocks.
        using var scope = NewDisposeScope();
        var scores = tensor(new float[] { 1, 0, 1, 1, 0, 1, 0 }).view(1, 1, 1, 7);
        var lengths = withKeyLengths ? tensor(new long[] { 96 }) : null;
        double topK = withKeyLengths ? 0.5 : 0.45;
        using var map = BlockSelection.Keep(scores, topK, 16, 7 * 16, lengths);
        Assert.That(Map(map), Is.EqualTo(new[,] { { true, false, true, true, false, false, false } }));
    }

    [Test]
    public void PooledBlocksAreTheBlockMeansOfQAndOfSmoothedValidKeys()
    {
        // 40 keys of 16-key blocks with a length of 20: block 0 holds 16 keys, block 1 four, block 2 none (pooled to 0).
        using var scope = NewDisposeScope();
        var generator = manual_seed(3);
        var q = randn([1, 2, 40, 8], dtype: ScalarType.Float64, generator: generator);
        var k = randn([1, 2, 40, 8], dtype: ScalarType.Float64, generator: generator) + 3;
        var (pooledQ, pooledK) = BlockSelection.Pool(q, k, 32, 16, tensor(new long[] { 20 }));
        var mean = k.narrow(2, 0, 20).mean([2L], keepdim: true);
        Assert.That(pooledQ.allclose(cat([q.narrow(2, 0, 32).mean([2L], keepdim: true), q.narrow(2, 32, 8).mean([2L], keepdim: true)], 2)), Is.True);
        var expectedK = cat([k.narrow(2, 0, 16).mean([2L], keepdim: true) - mean, k.narrow(2, 16, 4).mean([2L], keepdim: true) - mean,
            zeros(1, 2, 1, 8, dtype: ScalarType.Float64)], 2);
        Assert.That(pooledK.allclose(expectedK), Is.True);
    }
}
