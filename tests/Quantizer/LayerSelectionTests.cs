using Turbo.Tests.Support;
using Turbo.Quantizer.Selection;
using Turbo.Runtime;

namespace Turbo.Tests.Quantizer;

public class LayerSelectionTests
{
    static readonly string[] Layers =
    [
        "text_embedding.0", "text_embedding.2", "time_embedding.0", "time_embedding.2", "time_projection.1",
        "blocks.0.self_attn.q", "blocks.0.self_attn.k", "blocks.0.self_attn.v", "blocks.0.self_attn.o",
        "blocks.0.cross_attn.q", "blocks.0.cross_attn.k", "blocks.0.cross_attn.v", "blocks.0.cross_attn.o",
        "blocks.0.ffn.0", "blocks.0.ffn.2", "blocks.12.ffn.0", "blocks.12.self_attn.proj_l", "head.head",
    ];

    [Test]
    public void DefaultTakesTheBlockLinearsOnly()
    {
        var selected = new LayerSelection().Apply(Layers);
        Assert.That(selected, Has.Count.EqualTo(11));
        Assert.That(selected, Does.Not.Contain("head.head").And.Not.Contain("text_embedding.0").And.Not.Contain("blocks.12.self_attn.proj_l"));
    }

    [Test]
    public void GlobsAndExcludes()
    {
        Assert.That(new LayerSelection(["blocks.*.ffn.*"]).Apply(Layers), Is.EqualTo(new[] { "blocks.0.ffn.0", "blocks.0.ffn.2", "blocks.12.ffn.0" }));
        Assert.That(new LayerSelection(["**.q"]).Apply(Layers), Is.EqualTo(new[] { "blocks.0.self_attn.q", "blocks.0.cross_attn.q" }));
        Assert.That(new LayerSelection(null, ["blocks.0.*_attn.?"]).Apply(Layers), Is.EqualTo(new[] { "blocks.0.ffn.0", "blocks.0.ffn.2", "blocks.12.ffn.0" }));
        Assert.That(new GlobPattern("blocks.*.ffn.0").Matches("blocks.0.1.ffn.0"), Is.False, "* stays within a segment");
    }

    [Test]
    public void PatternsThatMatchNothingAreErrors()
    {
        Assert.That(() => new LayerSelection(["blocks.*.mlp.fc1"]).Apply(Layers),
            Throws.TypeOf<TurboException>().With.Message.Contains("--include blocks.*.mlp.fc1").And.Message.Contains("blocks.0.self_attn.q"));
        Assert.That(() => new LayerSelection(null, ["nothing"]).Apply(Layers), Throws.TypeOf<TurboException>().With.Message.Contains("--exclude"));
        Assert.That(() => new LayerSelection(["blocks.0.ffn.0"], ["blocks.*.ffn.*"]).Apply(Layers),
            Throws.TypeOf<TurboException>().With.Message.Contains("nothing to quantize"));
        Assert.Throws<TurboException>(() => _ = new GlobPattern("blocks.{q,k"));
        Assert.Throws<TurboException>(() => _ = new GlobPattern(" "));
    }
}
