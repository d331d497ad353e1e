using Turbo.Converter.Families.Wan;
using Turbo.Converter.Synth;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using Turbo.Tests.Support;

namespace Turbo.Tests.Converter;

public class WanLayoutTests
{
    [TestCase("1.3b", 825, 1_418_996_800L)]
    [TestCase("14b", 1095, 14_288_491_584L)]
    public void ReleasedSizesHaveTheirPublishedTensorAndParameterCounts(string preset, int tensors, long parameters)
    {
        var layout = SynthLayout.For(SynthPreset.Get(preset, layers: null), WanNaming.Original, SafetensorsDType.F32);
        Assert.That(layout, Has.Count.EqualTo(tensors));
        Assert.That(layout.Sum(t => t.ElementCount), Is.EqualTo(parameters));
        Assert.That(layout.Sum(t => t.ByteCount), Is.EqualTo(parameters * 4));
    }

    [TestCase(WanNaming.Original, Golden.OriginalWeights)]
    [TestCase(WanNaming.Diffusers, Golden.DiffusersWeights)]
    public void TinyLayoutEqualsTheGoldenFileNameForNameAndShapeForShape(WanNaming naming, string golden)
    {
        using var file = Golden.Open(golden);
        var expected = file.Tensors.ToDictionary(t => t.Name, t => t.Shape);
        var layout = SynthLayout.For(SynthPreset.Tiny, naming, SafetensorsDType.F32);
        Assert.That(layout.Select(t => t.Name), Is.EquivalentTo(expected.Keys));
        foreach (var t in layout)
            Assert.That(t.Shape, Is.EqualTo(expected[t.Name]), t.Name);
    }

    [Test]
    public void DiffusersNamesSwapTheCrossAttentionNorm()
    {
        Assert.That(WanNames.ToForeign("blocks.3.norm3.weight", WanNaming.Diffusers), Is.EqualTo("blocks.3.norm2.weight"));
        Assert.That(WanNames.ToForeign("head.modulation", WanNaming.Diffusers), Is.EqualTo("scale_shift_table"));
        Assert.That(WanNames.ToForeign("blocks.0.modulation", WanNaming.Diffusers), Is.EqualTo("blocks.0.scale_shift_table"));
        Assert.That(WanNames.ToForeign("blocks.12.cross_attn.o.bias", WanNaming.Diffusers), Is.EqualTo("blocks.12.attn2.to_out.0.bias"));
        Assert.That(WanNames.ToForeign("head.head.weight", WanNaming.ComfyUI), Is.EqualTo("model.diffusion_model.head.head.weight"));
    }

    [Test]
    public void DisabledNormsLeaveTheirTensorsOut()
    {
        var full = WanLayout.For(SynthPreset.Tiny);
        var bare = WanLayout.For(SynthPreset.Tiny with { QkNorm = false, CrossAttnNorm = false });
        // per block: 4 RMSNorm weights and the affine norm3 weight + bias
        Assert.That(full.Count - bare.Count, Is.EqualTo(2 * 6));
        Assert.That(bare.Select(e => e.Name), Has.None.Contains("norm"));
    }

    [Test]
    public void W8A8QuantizesExactlyTheBlockLinearWeights()
    {
        var quantized = WanLayout.For(WanConfig.T2V_1_3B).Where(e => WanLayout.IsBlockLinearWeight(e.Name)).ToArray();
        Assert.That(quantized, Has.Length.EqualTo(30 * 10)); // q, k, v, o of two attentions + 2 FFN linears
        Assert.That(quantized.Select(e => e.Shape.Length), Is.All.EqualTo(2));
    }
}
