using Turbo.Converter.Families.Wan;
using Turbo.Converter.Synth;
using Turbo.Runtime.IO;

namespace Turbo.Tests.Converter;

public class SynthTests
{
    [Test]
    public void GaussianFillHasTheRequestedMeanAndSpread()
    {
        var values = new float[1 << 20];
        GaussianFill.Float32(values, 0, mean: 1.0, std: 0.05, seed: 3, stream: 9);
        double mean = values.Average(v => (double)v);
        double std = Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
        Assert.That(mean, Is.EqualTo(1.0).Within(1e-3));
        Assert.That(std, Is.EqualTo(0.05).Within(1e-3));
        Assert.That(values.Max() - 1, Is.LessThanOrEqualTo(0.05 * Math.Sqrt(3) * 2 + 1e-6)); // Irwin–Hall(4) bound
    }

    [Test]
    public void GaussianFillIsTheSameWhetherFilledWholeOrInSlices()
    {
        var whole = new float[5 * GaussianFill.ChunkElements + 17];
        GaussianFill.Float32(whole, 0, 0, 1, seed: 11, stream: 2);
        var sliced = new float[whole.Length];
        int cut = 2 * GaussianFill.ChunkElements;
        GaussianFill.Float32(sliced.AsSpan(0, cut), 0, 0, 1, 11, 2);
        GaussianFill.Float32(sliced.AsSpan(cut), cut, 0, 1, 11, 2);
        Assert.That(sliced, Is.EqualTo(whole));
        var otherStream = new float[whole.Length];
        GaussianFill.Float32(otherStream, 0, 0, 1, 11, 3);
        Assert.That(otherStream, Is.Not.EqualTo(whole));
    }

    [Test]
    public void BFloat16IsTheRoundedFloat32()
    {
        var floats = new float[1000];
        var halves = new ushort[1000];
        GaussianFill.Float32(floats, 0, 0, 0.5, 1, 1);
        GaussianFill.BFloat16(halves, 0, 0, 0.5, 1, 1);
        for (int i = 0; i < floats.Length; i++)
        {
            float back = BitConverter.UInt32BitsToSingle((uint)halves[i] << 16);
            Assert.That(Math.Abs(back - floats[i]), Is.LessThanOrEqualTo(Math.Abs(floats[i]) / 256 + 1e-30), $"element {i}");
        }
        Assert.That(GaussianFill.ToBFloat16(1.0f + 1.0f / 256), Is.EqualTo(0x3F80)); // tie → even
        Assert.That(GaussianFill.ToBFloat16(1.0f + 3.0f / 256), Is.EqualTo(0x3F82)); // tie → even (up)
    }

    [Test]
    public void ValuesFollowTheGoldenDistributionPerKindOfTensor()
    {
        var layout = SynthLayout.For(SynthPreset.Tiny, WanNaming.Diffusers, SafetensorsDType.F32).ToDictionary(t => t.Name);
        Assert.That((layout["blocks.0.scale_shift_table"].Mean, layout["blocks.0.scale_shift_table"].Std), Is.EqualTo((0.0, 0.5)));
        Assert.That((layout["scale_shift_table"].Mean, layout["scale_shift_table"].Std), Is.EqualTo((0.0, 0.5)));
        Assert.That((layout["blocks.1.norm2.weight"].Mean, layout["blocks.1.norm2.weight"].Std), Is.EqualTo((1.0, 0.05)));
        Assert.That((layout["blocks.1.attn1.norm_q.weight"].Mean, layout["blocks.1.attn1.norm_q.weight"].Std), Is.EqualTo((1.0, 0.05)));
        Assert.That((layout["blocks.1.norm2.bias"].Mean, layout["blocks.1.norm2.bias"].Std), Is.EqualTo((0.0, 0.05)));
        Assert.That((layout["proj_out.weight"].Mean, layout["proj_out.weight"].Std), Is.EqualTo((0.0, 0.05)));
    }

    [TestCase(new long[] { 10, 10, 10, 10 }, 2, 20)]
    [TestCase(new long[] { 10, 10, 10, 10 }, 3, 20)] // no limit gives exactly 3 (19 → 4 shards, 20 → 2): the count is an upper bound
    [TestCase(new long[] { 50, 1, 1, 1 }, 2, 50)]
    [TestCase(new long[] { 5, 5 }, 4, 5)] // fewer tensors than shards: one tensor per shard
    public void ShardLimitIsTheSmallestThatGivesAtMostTheRequestedShards(long[] sizes, int shards, long expectedLimit)
    {
        long limit = ShardPlanner.MaxShardBytesFor(sizes, shards);
        Assert.That(limit, Is.EqualTo(expectedLimit));
        Assert.That(ShardPlanner.GreedyShardCount(sizes, limit), Is.LessThanOrEqualTo(shards));
    }
}
