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

    [TestCase("check-attention")]
    [TestCase("check-int8")]
    public void ParityOnlyWithBenchOnlyIsRefused(string command)
    {
        var (code, err) = CliRunner.TurboMessages(command, "--parity-only", "--bench-only");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("nothing to do"));
    }

    [Test]
    public void BackToBackBelowOneCallIsRefused()
    {
        var (code, err) = CliRunner.TurboMessages("check-attention", "--bench-only", "--back-to-back", "0");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("--back-to-back"));
    }

    [TestCase("check-attention", "--only", "95% sparse")]
    [TestCase("check-int8", "--only", "ffn.0")]
    [TestCase("check-attention", "--shape", "14b")]
    [TestCase("check-attention", "--back-to-back", "4")]
    public void NarrowingTheTimingsOfAParityRunIsRefused(string command, string option, string value)
    {
        var (code, err) = CliRunner.TurboMessages(command, "--parity-only", option, value);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("--parity-only"));
    }
}
