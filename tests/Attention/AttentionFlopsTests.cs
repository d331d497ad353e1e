using Turbo.Runtime.Attention;
using static TorchSharp.torch;

namespace Turbo.Tests.Attention;

/// <summary>The operation counts behind `turbo check-attention`'s rates, against sums worked out by hand.</summary>
public class AttentionFlopsTests
{
    [Test]
    public void DenseIsFourLqLkDPerHead() =>
        Assert.That(AttentionFlops.Dense(1, 12, 32760, 32760, 128), Is.EqualTo(4.0 * 12 * 32760.0 * 32760 * 128));

    [Test]
    public void BlockSparseCountsKeptPairsAtTheirRealBlockSizes()
    {
        // Lq 100 in blocks of 64 (rows 64, 36), Lk 150 in blocks of 64 (keys 64, 64, 22), one (batch, head).
        // Kept: (0, 0), (0, 2), (1, 1) → 64·64 + 64·22 + 36·64 = 7808 pairs.
        using var map = tensor(new[] { true, false, true, false, true, false }).view(1, 1, 2, 3);
        Assert.That(AttentionFlops.BlockSparse(map, 64, 64, 100, 150, 32), Is.EqualTo(4.0 * 32 * 7808));
    }

    [Test]
    public void BlockSparseLeavesOutKeysPastTheLengths()
    {
        // Two samples, every block kept; sample 1 has 70 keys: blocks of 64 keys, 6 keys, none.
        using var map = ones(2, 1, 2, 3, dtype: ScalarType.Bool);
        double full = 100.0 * 150, cut = 100.0 * 70;
        Assert.That(AttentionFlops.BlockSparse(map, 64, 64, 100, 150, 16, [150, 70]), Is.EqualTo(4.0 * 16 * (full + cut)));
        Assert.That(AttentionFlops.BlockSparse(map, 64, 64, 100, 150, 16), Is.EqualTo(AttentionFlops.Dense(2, 1, 100, 150, 16)),
            "all blocks kept is dense");
    }

    [Test]
    public void LinearBranchIsItsThreeProductsAndTheNormaliser()
    {
        // Per head: φ(k)ᵀv 2·Lk·D², φ(q)·(φ(k)ᵀv) 2·Lq·D², proj_l 2·Lq·D², φ(q)·Σφ(k) 2·Lq·D.
        const long lq = 10, lk = 30, d = 8;
        Assert.That(AttentionFlops.LinearBranch(2, 3, lq, lk, d), Is.EqualTo(6.0 * (2 * lk * d * d + 2 * lq * d * d + 2 * lq * d * d + 2 * lq * d)));
    }
}
