using Turbo.Tests.Support;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Tests.Models;

/// <summary>The causal conv and its chunk-to-chunk cache: for a stride-1 conv, chunking must not change the result.</summary>
public class WanVaeCausalConvTests
{
    static WanCausalConv3d RandomConv(int seed)
    {
        var conv = new WanCausalConv3d(3, 4, [3, 3, 3], [1, 1, 1], CPU);
        var generator = manual_seed(seed);
        var weights = new Dictionary<string, Tensor>
        {
            ["weight"] = randn([4, 3, 3, 3, 3], generator: generator),
            ["bias"] = randn([4], generator: generator),
        };
        ModuleWeights.Load(conv, weights, "random");
        foreach (var t in weights.Values) t.Dispose();
        return conv;
    }

    [Test]
    public void OutputFramesSeeOnlyTheirOwnAndEarlierInputFrames()
    {
        using var conv = RandomConv(1);
        using var x = randn([1, 3, 4, 5, 5], generator: manual_seed(2));
        using var changedLater = x.clone();
        changedLater.narrow(2, 2, 2).fill_(7f);
        using var y = conv.Forward(x);
        using var yChanged = conv.Forward(changedLater);
        Assert.That(y.shape, Is.EqualTo(new long[] { 1, 4, 4, 5, 5 }), "time padded on the past side only");
        using var early = y.narrow(2, 0, 2);
        using var earlyChanged = yChanged.narrow(2, 0, 2);
        Assert.That(RelativeError.Of(earlyChanged, early), Is.EqualTo(0));
        using var late = y.narrow(2, 2, 2);
        using var lateChanged = yChanged.narrow(2, 2, 2);
        Assert.That(RelativeError.Of(lateChanged, late), Is.GreaterThan(0.01));
    }

    // Single-frame chunks after the first are what the decoder and the encoder's deepest stages see.
    [TestCase(new[] { 1, 4, 4 })]
    [TestCase(new[] { 1, 1, 1, 1, 1, 1, 1, 1, 1 })]
    [TestCase(new[] { 1, 1, 4, 1, 2 })]
    public void ChunkedPassEqualsOnePassOverAllFrames(int[] chunkFrames)
    {
        using var conv = RandomConv(3);
        using var x = randn([2, 3, chunkFrames.Sum(), 5, 6], generator: manual_seed(4));
        using var whole = conv.Forward(x);
        using var cache = new WanVaeFeatureCache();
        var chunks = new List<Tensor>();
        int start = 0;
        foreach (int frames in chunkFrames)
        {
            using var chunk = x.narrow(2, start, frames);
            chunks.Add(conv.ForwardChunk(chunk, cache));
            start += frames;
        }
        using var chunked = cat(chunks, 2);
        foreach (var t in chunks) t.Dispose();
        Assert.That(RelativeError.Of(chunked, whole), Is.LessThanOrEqualTo(1e-6));
    }
}
