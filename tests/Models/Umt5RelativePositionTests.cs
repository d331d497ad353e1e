using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Tests.Models;

/// <summary>T5's bidirectional relative-position buckets against tables worked out by hand from the definition.</summary>
public class Umt5RelativePositionTests
{
    [Test]
    public void GoldenConfigBucketsForTheFirstAndLastQuery()
    {
        // 8 buckets, max distance 16: 4 per direction, distances 0 and 1 exact, then 2 + ⌊2·log(d/2)/log 8⌋ capped at 3
        // (the step to 3 comes at d = 2·√8 ≈ 5.66). Keys after the query add 4.
        using var buckets = Umt5RelativePosition.Buckets(12, 12, numBuckets: 8, maxDistance: 16);
        Assert.That(buckets.shape, Is.EqualTo(new long[] { 12, 12 }));
        Assert.That(buckets.dtype, Is.EqualTo(ScalarType.Int64));
        using var first = buckets[0];
        using var last = buckets[11];
        Assert.That(first.data<long>().ToArray(), Is.EqualTo(new long[] { 0, 5, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7 }));
        Assert.That(last.data<long>().ToArray(), Is.EqualTo(new long[] { 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 1, 0 }));
    }

    // umt5-xxl: 32 buckets, max distance 128 → 16 per direction, 0..7 exact, then 8 + ⌊2·log2(d/8)⌋ capped at 15; the
    // steps come at d = 8·2^(k/2): 11.3, 16, 22.6, 32, 45.3, 64, 90.5, 128. Exact powers of two (16, 32, 64) must land
    // on the upper bucket.
    [TestCase(0, 0)]
    [TestCase(7, 7)]
    [TestCase(8, 8)]
    [TestCase(11, 8)]
    [TestCase(12, 9)]
    [TestCase(15, 9)]
    [TestCase(16, 10)]
    [TestCase(22, 10)]
    [TestCase(23, 11)]
    [TestCase(31, 11)]
    [TestCase(32, 12)]
    [TestCase(45, 12)]
    [TestCase(46, 13)]
    [TestCase(63, 13)]
    [TestCase(64, 14)]
    [TestCase(90, 14)]
    [TestCase(91, 15)]
    [TestCase(127, 15)]
    [TestCase(128, 15)]
    [TestCase(511, 15)]
    public void XxlBucketsInBothDirections(int distance, int expected)
    {
        using var buckets = Umt5RelativePosition.Buckets(distance + 1, distance + 1, numBuckets: 32, maxDistance: 128);
        using var keyBefore = buckets[distance, 0];  // relative position −distance
        using var keyAfter = buckets[0, distance];   // relative position +distance
        Assert.That(keyBefore.item<long>(), Is.EqualTo(expected), "key before the query");
        Assert.That(keyAfter.item<long>(), Is.EqualTo(distance == 0 ? 0 : expected + 16), "key after the query");
    }

    [Test]
    public void BucketsDependOnlyOnTheRelativePosition()
    {
        using var buckets = Umt5RelativePosition.Buckets(40, 40, numBuckets: 32, maxDistance: 128);
        for (int shift = 1; shift < 40; shift += 7)
        {
            using var diagonal = buckets.diagonal(shift);
            using var distinct = diagonal.unique().Item1;
            Assert.That(distinct.numel(), Is.EqualTo(1), $"diagonal {shift}");
        }
    }
}
