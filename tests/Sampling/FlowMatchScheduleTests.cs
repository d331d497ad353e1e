using Turbo.Runtime;
using Turbo.Runtime.Sampling;
using Turbo.Tests.Support;

namespace Turbo.Tests.Sampling;

public class FlowMatchScheduleTests
{
    [Test]
    public void DiffusersUniPcGridEqualsUpstreamExactly()
    {
        using var io = Golden.Open(Golden.SamplingIO);
        using var goldenTimesteps = io.Read("timesteps");
        using var goldenSigmas = io.Read("sigmas");
        var schedule = FlowMatchSchedule.DiffusersUniPc(8, 3.0);
        Assert.That(schedule.Timesteps.Select(t => (float)t), Is.EqualTo(goldenTimesteps.data<float>().ToArray()));
        Assert.That(schedule.Sigmas.Select(s => (float)s), Is.EqualTo(goldenSigmas.data<float>().ToArray()));
    }

    [Test]
    public void OriginalWanGridStartsAt999AndTruncatesTimesteps()
    {
        // wan/utils/fm_solvers_unipc.py with 50 steps and shift 5: t ≈ 999, 995, 991, 987, 982, … 92.
        var schedule = FlowMatchSchedule.WanOriginal(50, 5.0);
        Assert.That(schedule.Timesteps.Take(5), Is.EqualTo(new double[] { 999, 995, 991, 987, 982 }));
        Assert.That(schedule.Timesteps[^1], Is.EqualTo(92));
        Assert.That(schedule.Sigmas, Has.Count.EqualTo(51));
        Assert.That(schedule.Sigmas[^1], Is.Zero);
        Assert.That(schedule.Sigmas[0], Is.EqualTo((double)(float)(5 * (double)0.999f / (1 + 4 * (double)0.999f))));
    }

    [Test]
    public void ShiftOfOneKeepsTheLinearGrid()
    {
        var schedule = FlowMatchSchedule.DiffusersUniPc(4, 1.0);
        Assert.That(schedule.Sigmas, Is.EqualTo(new[] { 1 - 1e-6, 0.75025, 0.5005, 0.25075, 0 }.Select(s => (double)(float)s)));
        Assert.That(schedule.Timesteps, Is.EqualTo(new double[] { 999, 750, 500, 250 }));
    }

    [Test]
    public void LeadingStepsKeepTheirLevelsAndTimesteps()
    {
        var schedule = FlowMatchSchedule.WanOriginal(50, shift: 5.0);
        var first3 = schedule.Leading(3);
        Assert.That(first3.Steps, Is.EqualTo(3));
        Assert.That(first3.Sigmas, Is.EqualTo(schedule.Sigmas.Take(4)), "the 3 steps' levels and the level they end at");
        Assert.That(first3.Timesteps, Is.EqualTo(schedule.Timesteps.Take(3)));
        Assert.That(schedule.Leading(50), Is.SameAs(schedule));
        Assert.That(schedule.Leading(80), Is.SameAs(schedule), "more than N: the whole schedule");
        Assert.Throws<TurboException>(() => schedule.Leading(0));
    }

    [Test]
    public void InvalidSchedulesAreRejected()
    {
        Assert.Throws<TurboException>(() => FlowMatchSchedule.DiffusersUniPc(0, 3));
        Assert.Throws<TurboException>(() => FlowMatchSchedule.WanOriginal(10, 0));
        Assert.Throws<TurboException>(() => new FlowMatchSchedule([1.0, 0.5], [1000.0, 500.0]));
        Assert.Throws<TurboException>(() => FlowMatchSchedule.FromSigmas([0.5, 0.7, 0]));
        Assert.Throws<TurboException>(() => FlowMatchSchedule.FromSigmas([1.5, 0]));
    }
}
