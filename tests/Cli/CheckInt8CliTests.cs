using Turbo.Cli.Int8;

namespace Turbo.Tests.Cli;

/// <summary>`turbo check-int8`'s own narrowing options (the shared ones: TimingCommandsCliTests) are checked before anything runs.</summary>
public class CheckInt8CliTests
{
    [Test]
    public void AFilterThatMatchesNoLayerIsRefusedWithTheLayers()
    {
        var (code, err) = CliRunner.TurboMessages("check-int8", "--shape", "14b", "--only", "ffn.9");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("ffn.9").And.Contain("ffn.0").And.Contain("attn q/k/v/o"));
    }

    [Test]
    public void ShapeAndOnlyPickTheirLayers()
    {
        Assert.That(Int8Timing.Select("14b", "ffn").Select(l => (l.Model, l.Name)),
            Is.EqualTo(new[] { ("14B", "ffn.0"), ("14B", "ffn.2") }));
        Assert.That(Int8Timing.Select(null, null), Has.Length.EqualTo(Int8Timing.WanLayers.Length));
    }
}
