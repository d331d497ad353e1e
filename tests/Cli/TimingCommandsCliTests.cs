namespace Turbo.Tests.Cli;

/// <summary>The options that narrow `turbo check-attention` and `turbo check-int8` are checked before anything runs (no GPU needed).</summary>
public class TimingCommandsCliTests
{
    [TestCase("check-attention")]
    [TestCase("check-int8")]
    public void AnUnknownShapeIsRefusedWithTheKnownOnes(string command)
    {
        var (code, err) = CliRunner.TurboMessages(command, "--shape", "7b");
        Assert.That(code, Is.Not.EqualTo(0));
        Assert.That(err, Does.Contain("7b").And.Contain("1.3b").And.Contain("14b"));
    }

    [Test]
    public void NoBenchWithBenchOnlyIsRefused()
    {
        var (code, err) = CliRunner.TurboMessages("check-attention", "--no-bench", "--bench-only");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("nothing to do"));
    }
}
