using Turbo.Runtime;
using Turbo.Runtime.Sampling;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Sampling;

public class TrigFlowTests
{
    [Test]
    public void TimesConvertBothWaysExactly()
    {
        Assert.That(TrigFlow.ToRectified(Math.PI / 4), Is.EqualTo(0.5).Within(1e-15));
        Assert.That(TrigFlow.ToRectified(Math.Atan(80)), Is.EqualTo(80.0 / 81).Within(1e-15), "tan t = s / (1 − s)");
        Assert.That(TrigFlow.ToRectified(0), Is.EqualTo(0));
        Assert.That(TrigFlow.ToRectified(TrigFlow.MaxTime), Is.EqualTo(1).Within(1e-15));
        for (int i = 0; i <= 100; i++)
        {
            double t = TrigFlow.MaxTime * i / 100, s = i / 100.0;
            Assert.That(TrigFlow.FromRectified(TrigFlow.ToRectified(t)), Is.EqualTo(t).Within(1e-14), $"t = {t}");
            Assert.That(TrigFlow.ToRectified(TrigFlow.FromRectified(s)), Is.EqualTo(s).Within(1e-14), $"s = {s}");
        }
        using var times = linspace(0, TrigFlow.MaxTime, 33, dtype: ScalarType.Float64);
        using var rectified = TrigFlow.ToRectified(times);
        using var back = TrigFlow.FromRectified(rectified);
        Assert.That(RelativeError.Of(back, times), Is.LessThan(1e-15));
        Assert.That(rectified[10].item<double>(), Is.EqualTo(TrigFlow.ToRectified(times[10].item<double>())).Within(1e-16));
    }

    [Test]
    public void PointsAndVelocitiesRoundTrip()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(3);
        var xs = randn([5, 4, 2, 3, 3], dtype: ScalarType.Float64, generator: g);
        var v = randn([5, 4, 2, 3, 3], dtype: ScalarType.Float64, generator: g);
        var t = tensor(new[] { 0.0, 0.2, Math.PI / 4, 1.4, TrigFlow.MaxTime });

        var xt = TrigFlow.FromRectifiedPoint(xs, t);
        var f = TrigFlow.F(xt, t, v);
        Assert.That(RelativeError.Of(TrigFlow.ToRectifiedPoint(xt, t), xs), Is.LessThan(1e-15));
        Assert.That(RelativeError.Of(TrigFlow.Velocity(xt, t, f), v), Is.LessThan(1e-14));
    }

    /// <summary>The same noisy sample and the same data on both paths: F is dx_t/dt and recovers x0, v is dx_s/ds.</summary>
    [Test]
    public void BothPathsHoldTheSamePointsAndTheirVelocitiesAgree()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(4);
        var x0 = randn([4, 3, 1, 2, 2], dtype: ScalarType.Float64, generator: g);
        var noise = randn([4, 3, 1, 2, 2], dtype: ScalarType.Float64, generator: g);
        var s = tensor(new[] { 0.05, 0.3, 0.5, 0.97 });
        var t = TrigFlow.FromRectified(s);
        var sv = s.view(4, 1, 1, 1, 1);
        var xs = (1 - sv) * x0 + sv * noise;
        var v = noise - x0;

        var xt = TrigFlow.Noised(x0, noise, t);
        Assert.That(RelativeError.Of(TrigFlow.ToRectifiedPoint(xt, t), xs), Is.LessThan(1e-15));
        var f = TrigFlow.F(xt, t, v);
        var tv = t.view(4, 1, 1, 1, 1);
        Assert.That(RelativeError.Of(f, -tv.sin() * x0 + tv.cos() * noise), Is.LessThan(1e-14), "F = dx_t/dt");
        Assert.That(RelativeError.Of(TrigFlow.X0(xt, t, f), x0), Is.LessThan(1e-14));
    }

    [Test]
    public void TimesThatAreNotOnePerSampleAreRefused()
    {
        using var x = zeros(2, 3);
        using var t = zeros(3);
        Assert.That(Assert.Throws<TurboException>(() => TrigFlow.F(x, t, x))!.Message, Does.Contain("expected shape [2]"));
    }
}
