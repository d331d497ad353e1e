using Turbo.Distiller.Rcm;
using Turbo.Runtime;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Distiller;

public class RcmTangentTests
{
    [Test]
    public void JvpOfAKnownFunctionIsExact()
    {
        // f(x, t) = sin t·x² → J·(dx, dt) = 2·sin t·x·dx + cos t·x²·dt
        using var scope = NewDisposeScope();
        var g = new Generator(1);
        var x = randn([3, 5], dtype: ScalarType.Float64, generator: g);
        var t = rand([3], dtype: ScalarType.Float64, generator: g);
        var dx = randn([3, 5], dtype: ScalarType.Float64, generator: g);
        var dt = randn([3], dtype: ScalarType.Float64, generator: g);
        Tensor F(Tensor xi, Tensor ti) => ti.sin().view(-1, 1) * xi.square();
        var expected = 2 * t.sin().view(-1, 1) * x * dx + t.cos().view(-1, 1) * x.square() * dt.view(-1, 1);
        Assert.That(RelativeError.Of(Tangent.Jvp(F, x, t, dx, dt, TangentMethod.DoubleBackward), expected), Is.LessThan(1e-14));
        Assert.That(RelativeError.Of(Tangent.Jvp(F, x, t, dx, dt, TangentMethod.FiniteDifference, 1e-5), expected), Is.LessThan(1e-9));
    }

    /// <summary>
    /// The tangent of a micro Wan DiT in TrigFlow (float64 throughout, dense attention written out for the double
    /// backward) against a central difference computed here: they agree to the difference's own error (measured:
    /// 2e-11 at h = 1e-5; the difference converges as h⁴ from 9e-4 at h = 1e-3 down to its rounding floor).
    /// </summary>
    [Test]
    public void JvpOfAWanDiTMatchesCentralDifferences()
    {
        using var model = MicroWan.New(seed: 2, ScalarType.Float64);
        using var scope = NewDisposeScope();
        var g = new Generator(5);
        var context = randn([2, 4, 8], dtype: ScalarType.Float64, generator: g);
        var x = randn([2, .. MicroWan.Latent], dtype: ScalarType.Float64, generator: g);
        var t = tensor(new[] { 0.3, 1.2 });
        var dx = randn([2, .. MicroWan.Latent], dtype: ScalarType.Float64, generator: g);
        var dt = tensor(new[] { 0.7, -0.4 });
        var f = TrigFlowModel.Of(model);
        Tensor F(Tensor xi, Tensor ti) => f.F(xi, ti, context);

        var exact = Tangent.Jvp(F, x, t, dx, dt, TangentMethod.DoubleBackward);
        // A fourth-order central difference (Richardson), written out here: F curves fast in t (the time embedding
        // turns 1000·s into angles), so a second-order one would err by ~1e-6 at this step and ~2e-2 at 1e-3.
        const double h = 1e-5;
        Tensor Shifted(double by) => F(x + by * dx, t + by * dt);
        Tensor central;
        using (no_grad()) central = (8 * (Shifted(h) - Shifted(-h)) - (Shifted(2 * h) - Shifted(-2 * h))) / (12 * h);
        double error = RelativeError.Of(exact, central);
        TestContext.Out.WriteLine($"double-backward JVP vs fourth-order central difference (h = {h}): rel err {error:E2}");
        Assert.That(error, Is.LessThan(1e-9));
        Assert.That(exact.abs().max().item<double>(), Is.GreaterThan(1e-3), "a tangent that is not trivially zero");

        double viaMethod = RelativeError.Of(Tangent.Jvp(F, x, t, dx, dt, TangentMethod.FiniteDifference, 1e-4), exact);
        Assert.That(viaMethod, Is.LessThan(1e-6), "the finite-difference method agrees at its own error");
    }

    [Test]
    public void MisshapenDirectionsOrTimesAreRefused()
    {
        using var x = zeros(2, 3);
        using var t = zeros(2);
        Tensor F(Tensor xi, Tensor ti) => xi * ti.view(-1, 1);
        using var badDx = zeros(2, 4);
        using var badT = zeros(3);
        Assert.Throws<TurboException>(() => Tangent.Jvp(F, x, t, badDx, t, TangentMethod.DoubleBackward));
        Assert.Throws<TurboException>(() => Tangent.Jvp(F, x, badT, x, badT, TangentMethod.FiniteDifference));
        Assert.That(Assert.Throws<TurboException>(() => Tangent.Jvp((xi, _) => xi.sum(1), x, t, x, t, TangentMethod.FiniteDifference))!.Message,
            Does.Contain("shape of x"));
        Assert.That(Assert.Throws<TurboException>(() => Tangent.Jvp((xi, _) => xi * 2, x, t, x, t, TangentMethod.DoubleBackward))!.Message,
            Does.Contain("both x and t"));
    }

    /// <summary>
    /// The reverse pass of f scatters into a 1 PiB tensor, an allocation that fails at once: the failure must reach the
    /// caller as an exception (a benchmark reports it), not end the process.
    /// </summary>
    [Test]
    public void RunningOutOfMemoryInTheExactTangentIsAnException()
    {
        using var x = ones(1, 3);
        using var t = ones(1);
        using var rows = zeros([3], ScalarType.Int64);
        Tensor F(Tensor xi, Tensor ti) => xi * ti.reshape(1, 1).expand(1L << 48, 1).index_select(0, rows).reshape(1, 3);
        var e = Assert.Catch(() => Tangent.Jvp(F, x, t, x, t, TangentMethod.DoubleBackward))!;
        Assert.That(e.Message, Does.Contain("can't allocate memory"));
    }
}
