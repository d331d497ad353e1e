namespace Turbo.Tests.Cli;

/// <summary>`turbo check-attention`'s options that narrow a run are checked before anything runs.</summary>
public class CheckAttentionCliTests
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
        var (code, err) = Turbo("check-attention", "--shape", "7b");
        Assert.That(code, Is.Not.EqualTo(0));
        Assert.That(err, Does.Contain("7b").And.Contain("1.3b").And.Contain("14b"));
    }

    [Test]
    public void NoBenchWithBenchOnlyIsRefused()
    {
        var (code, err) = Turbo("check-attention", "--no-bench", "--bench-only");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("nothing to do"));
    }
}
