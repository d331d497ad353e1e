using Turbo.Cli.Int8;

namespace Turbo.Tests.Cli;

/// <summary>`turbo check-int8`'s options that narrow a run are checked before anything runs (no GPU needed).</summary>
public class CheckInt8CliTests
{
    /// <summary>Exit code and everything written (errors first).</summary>
    static (int Code, string Err) Turbo(params string[] args)
    {
        var r = CliRunner.RunTurbo(args);
        return (r.ExitCode, r.Err + r.Out);
    }

    [Test]
    public void AnUnknownShapeIsRefusedWithTheKnownOnes()
    {
        var (code, err) = Turbo("check-int8", "--shape", "7b");
        Assert.That(code, Is.Not.EqualTo(0));
        Assert.That(err, Does.Contain("7b").And.Contain("1.3b").And.Contain("14b"));
    }

    [Test]
    public void ParityOnlyWithBenchOnlyIsRefused()
    {
        var (code, err) = Turbo("check-int8", "--parity-only", "--bench-only");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("nothing to do"));
    }

    [Test]
    public void NarrowingTheTimingsOfAParityRunIsRefused()
    {
        var (code, err) = Turbo("check-int8", "--parity-only", "--only", "ffn.0");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("--parity-only"));
    }

    [Test]
    public void AFilterThatMatchesNoLayerIsRefusedWithTheLayers()
    {
        var (code, err) = Turbo("check-int8", "--shape", "14b", "--only", "ffn.9");
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
