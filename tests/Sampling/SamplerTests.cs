using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Runtime.Sampling;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Sampling;

public class SamplerTests
{
    [Test]
    public void UniPcWithGuidanceReproducesTheUpstreamDenoisingLoop()
    {
        using var model = GoldenWan.LoadModel();
        using var io = Golden.Open(Golden.SamplingIO);
        int steps = int.Parse(io.Metadata["steps"]);
        double shift = double.Parse(io.Metadata["flow_shift"], System.Globalization.CultureInfo.InvariantCulture);
        double guidance = double.Parse(io.Metadata["guidance_scale"], System.Globalization.CultureInfo.InvariantCulture);
        using var noise = io.Read("noise");
        using var context = io.Read("context");
        using var negative = io.Read("negative_context");
        using var expected = io.Read("final_latents");
        using var noGrad = no_grad();

        var calls = new List<(int, int)>();
        var velocity = ClassifierFreeGuidance.Guided((x, t, c) => model.Forward(x, t, c), context, negative, guidance);
        using var latents = new UniPcSampler().Sample(velocity, noise, FlowMatchSchedule.DiffusersUniPc(steps, shift),
            (i, n) => calls.Add((i, n)));

        double error = RelativeError.Of(latents, expected);
        TestContext.Out.WriteLine($"UniPC {steps} steps + CFG {guidance}: rel err {error:E2}");
        Assert.That(error, Is.LessThanOrEqualTo(1e-3));
        Assert.That(calls, Is.EqualTo(Enumerable.Range(1, steps).Select(i => (i, steps))));
    }

    [Test]
    public void BatchedGuidanceEqualsTwoSeparatePasses()
    {
        using var model = GoldenWan.LoadModel();
        using var io = Golden.Open(Golden.SamplingIO);
        using var noise = io.Read("noise");
        using var context = io.Read("context");
        using var negative = io.Read("negative_context");
        using var t = tensor(new float[] { 600 });
        using var noGrad = no_grad();
        using var batched = ClassifierFreeGuidance.Guided((x, ts, c) => model.Forward(x, ts, c), context, negative, 5.0)(noise, t);
        using var cond = model.Forward(noise, t, context);
        using var uncond = model.Forward(noise, t, negative);
        using var separate = ClassifierFreeGuidance.Combine(cond, uncond, 5.0);
        Assert.That(RelativeError.Of(batched, separate), Is.LessThanOrEqualTo(1e-5));
        using var unguided = ClassifierFreeGuidance.Guided((x, ts, c) => model.Forward(x, ts, c), context, negative, 1.0)(noise, t);
        Assert.That(RelativeError.Of(unguided, cond), Is.Zero);
    }

    [Test]
    public void EulerMatchesAHandComputation()
    {
        // v(x, t) = x·t/1000 + 1 on σ = 0.8, 0.5, 0 (timesteps 800, 500): x ← x + Δσ·v.
        var schedule = FlowMatchSchedule.FromSigmas([0.8, 0.5, 0.0]);
        using var noise = tensor(new float[] { 1f, -2f, 0.5f }).view(1, 3);
        VelocityModel velocity = (x, t) => x * (t.view(-1, 1) / 1000) + 1;
        using var result = new EulerSampler().Sample(velocity, noise, schedule);

        double[] expected = [1, -2, 0.5];
        foreach (var (sigma, next) in new[] { (0.8, 0.5), (0.5, 0.0) })
            for (int j = 0; j < 3; j++)
                expected[j] += (next - (double)(float)sigma) * (expected[j] * sigma + 1);
        Assert.That(result.data<float>().ToArray(), Is.EqualTo(expected.Select(v => (float)v)).Within(1e-6));
    }

    [Test]
    public void SamplersFollowTheExactPathOfAnExactModel()
    {
        // If the data is one point c, the true velocity is (x − c)/σ and every x0 prediction is c: UniPC's multistep
        // terms vanish and both samplers must land on c whatever the schedule.
        using var c = tensor(new float[] { 0.3f, -1.2f, 2f, 0f }).view(1, 4);
        using var noise = tensor(new float[] { 1f, 0.5f, -0.7f, 1.5f }).view(1, 4);
        VelocityModel exact = (x, t) => (x - c) / (t.view(-1, 1) / 1000);
        var schedule = FlowMatchSchedule.FromSigmas([0.9, 0.7, 0.45, 0.2, 0.05, 0]);
        foreach (IFlowSampler sampler in new IFlowSampler[] { new UniPcSampler(), new EulerSampler() })
        {
            using var result = sampler.Sample(exact, noise, schedule);
            Assert.That(result.data<float>().ToArray(), Is.EqualTo(c.data<float>().ToArray()).Within(1e-5), sampler.GetType().Name);
        }
    }

    [Test]
    public void UniPcIsSecondOrderAccurate()
    {
        // The sampled ODE is dx/dσ = v; for v = a·x its solution is x(σ) = x(σ0)·exp(a·(σ − σ0)). Halving the step
        // size must cut a second-order method's error about 4× (Euler's about 2×).
        const double a = 1.3;
        double Error(IFlowSampler sampler, int steps)
        {
            var sigmas = Enumerable.Range(0, steps + 1).Select(i => 0.9 - 0.8 * i / steps).ToArray();
            var schedule = new FlowMatchSchedule(sigmas, sigmas.Take(steps).Select(s => s * 1000).ToArray());
            using var noise = tensor(new double[] { 1.0 });
            using var result = sampler.Sample((x, t) => x * a, noise, schedule);
            return Math.Abs(result.item<float>() - Math.Exp(a * (schedule.Sigmas[^1] - schedule.Sigmas[0])));
        }
        double uniPcRatio = Error(new UniPcSampler(), 10) / Error(new UniPcSampler(), 20);
        double eulerRatio = Error(new EulerSampler(), 10) / Error(new EulerSampler(), 20);
        TestContext.Out.WriteLine($"error ratio on halving the step: UniPC {uniPcRatio:F2}, Euler {eulerRatio:F2}");
        Assert.That(eulerRatio, Is.InRange(1.7, 2.3));
        Assert.That(uniPcRatio, Is.GreaterThan(3.2));
    }

    [Test]
    public void VelocityOfTheWrongShapeIsRejected()
    {
        using var noise = zeros(1, 4);
        var schedule = FlowMatchSchedule.DiffusersUniPc(2, 3);
        VelocityModel wrong = (x, t) => zeros(1, 5);
        Assert.That(Assert.Throws<TurboException>(() => new UniPcSampler().Sample(wrong, noise, schedule))!.Message,
            Does.StartWith("velocity: expected shape [1, 4]"));
        Assert.Throws<TurboException>(() => new EulerSampler().Sample(wrong, noise, schedule));
        using var intNoise = zeros(new long[] { 1, 4 }, ScalarType.Int32);
        Assert.Throws<TurboException>(() => new EulerSampler().Sample((x, t) => x, intNoise, schedule));
    }
}
