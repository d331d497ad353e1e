using Turbo.Runtime;
using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Tests.Sampling;

public class RcmSamplerTests
{
    static double S(double t) => Math.Sin(t) / (Math.Sin(t) + Math.Cos(t));

    [Test]
    public void TheScheduleIsTurboDiffusionsTimesCutToTheSteps()
    {
        Assert.That(RcmSchedule.TrigFlowTimes(4), Is.EqualTo(new[] { Math.Atan(80), 1.5, 1.4, 1.0, 0 }));
        Assert.That(RcmSchedule.TrigFlowTimes(2, sigmaMax: 120), Is.EqualTo(new[] { Math.Atan(120), 1.5, 0 }));
        Assert.That(RcmSchedule.TrigFlowTimes(1), Is.EqualTo(new[] { Math.Atan(80), 0 }));

        var schedule = RcmSchedule.Create(3);
        Assert.That(schedule.Sigmas, Is.EqualTo(new[] { 80.0 / 81, S(1.5), S(1.4), 0 }).Within(1e-15));
        Assert.That(schedule.Timesteps, Is.EqualTo(new[] { 80000.0 / 81, 1000 * S(1.5), 1000 * S(1.4) }).Within(1e-12));
        Assert.That(schedule.ModelSigmas, Is.EqualTo(schedule.Sigmas.Take(3)), "the levels the student is called at: all but the final 0");
        Assert.That(S(1.5), Is.EqualTo(0.934).Within(1e-3), "TrigFlow 1.5 is rectified-flow noise level 0.934");
    }

    [TestCase(0, 80.0, "steps must be 1 to 4")]
    [TestCase(5, 80.0, "steps must be 1 to 4")]
    [TestCase(2, 10.0, "needs sigma_max > 14.1")]
    [TestCase(1, -1.0, "positive number")]
    public void BadStepsOrSigmaMaxAreRefused(int steps, double sigmaMax, string expected)
    {
        var error = Assert.Throws<TurboException>(() => RcmSchedule.Create(steps, sigmaMax));
        Assert.That(error!.Message, Does.Contain(expected));
    }

    /// <summary>With a model whose velocity is 0 every clean estimate is the sample itself: x ← (1 − σ')·x + σ'·ε.</summary>
    [Test]
    public void EachStepTakesTheCleanEstimateAndNoisesItAfresh()
    {
        var schedule = RcmSchedule.Create(3);
        using var noise = tensor(new float[] { 1f, -2f }).view(1, 2);
        float[][] fresh = [[0.5f, 0.25f], [-1f, 3f]];
        int drawn = 0;
        var timesteps = new List<float>();
        VelocityModel zero = (x, t) => { timesteps.Add(t.item<float>()); return zeros_like(x); };
        using var result = new RcmSampler(x => tensor(fresh[drawn++]).view(x.shape)).Sample(zero, noise, schedule);

        var s = schedule.Sigmas;
        double[] x = [s[0] * 1, s[0] * -2];
        for (int i = 0; i < 2; i++)
            x = [(1 - s[i + 1]) * x[0] + s[i + 1] * fresh[i][0], (1 - s[i + 1]) * x[1] + s[i + 1] * fresh[i][1]];
        Assert.That(drawn, Is.EqualTo(2), "fresh noise for every step but the last");
        Assert.That(result.data<float>().ToArray(), Is.EqualTo(x.Select(v => (float)v)).Within(1e-6));
        Assert.That(timesteps, Is.EqualTo(schedule.Timesteps.Select(t => (float)t)).Within(1e-3));
    }

    /// <summary>If the data is one point c, the exact velocity's clean estimate is c at every level: the sample is c.</summary>
    [TestCase(1)]
    [TestCase(4)]
    public void AnExactModelLandsOnItsDataPoint(int steps)
    {
        using var c = tensor(new float[] { 0.3f, -1.2f, 2f, 0f }).view(1, 4);
        using var noise = tensor(new float[] { 1f, 0.5f, -0.7f, 1.5f }).view(1, 4);
        VelocityModel exact = (x, t) => (x - c) / (t.view(-1, 1) / 1000);
        var generator = new Generator(1);
        using var sample = new RcmSampler(x => randn(x.shape, generator: generator)).Sample(exact, noise, RcmSchedule.Create(steps));
        Assert.That(sample.data<float>().ToArray(), Is.EqualTo(c.data<float>().ToArray()).Within(1e-5));
    }

    [Test]
    public void ScheduleNotEndingAtZeroOrMisshapenNoiseIsRefused()
    {
        using var noise = zeros(1, 2);
        VelocityModel zero = (x, _) => zeros_like(x);
        var notToZero = FlowMatchSchedule.FromSigmas([0.9, 0.5]);
        Assert.That(Assert.Throws<TurboException>(() => new RcmSampler(x => zeros_like(x)).Sample(zero, noise, notToZero))!.Message,
            Does.Contain("ends at noise level 0"));
        Assert.That(Assert.Throws<TurboException>(() => new RcmSampler(_ => zeros(3)).Sample(zero, noise, RcmSchedule.Create(2)))!.Message,
            Does.Contain("fresh noise"));
    }
}
