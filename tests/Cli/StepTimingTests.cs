using Turbo.Cli.Bench;

namespace Turbo.Tests.Cli;

/// <summary>`turbo bench` notes a single-step time that its own loop contradicts.</summary>
public class StepTimingTests
{
    [Test]
    public void StepAndLoopWithinTenPercentAgree()
    {
        Assert.That(StepTiming.Disagreement("package", 955.5, 47.77, 50), Is.Null);  // 955.4 ms per step in the loop
        Assert.That(StepTiming.Disagreement("package", 1040, 47.77, 50), Is.Null);   // +8.9%
        Assert.That(StepTiming.Disagreement("package", 870, 47.77, 50), Is.Null);    // −8.9%
    }

    [Test]
    public void AStepSlowerThanTheLoopIsNamedWithBothTimes()
    {
        // A 14B teacher step timed once after one warm-up, against its loop over two steps (966.02 s for 50).
        string? note = StepTiming.Disagreement("teacher recipe", 28501.7, 966.02, 50);
        Assert.That(note, Does.StartWith("teacher recipe:").And.Contain("28501.7 ms").And.Contain("19320.4 ms per step")
            .And.Contain("1.48×").And.Contain("--repeats"));
    }

    [Test]
    public void AStepFasterThanTheLoopIsNamedToo()
    {
        Assert.That(StepTiming.Disagreement("package", 100, 0.6, 4), Does.Contain("0.67×"));
    }
}
