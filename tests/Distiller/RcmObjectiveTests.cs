using Turbo.Distiller.Rcm;
using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Tests.Distiller;

/// <summary>
/// The sCM and DMD terms on functions whose answers are known in closed form. If the data is one point c, the exact
/// TrigFlow model is F*(x, t) = (cos t·x − c) / sin t: its clean estimate is c everywhere, and along its own
/// trajectory dF*/dt = −x.
/// </summary>
public class RcmObjectiveTests
{
    static readonly double[] Times = [0.3, 0.8, 1.3];

    static (Tensor X, Tensor T, Tensor C) Draw()
    {
        var g = new Generator(11);
        return (randn([3, 2, 1, 2, 2], dtype: ScalarType.Float64, generator: g), tensor(Times),
                randn([1, 2, 1, 2, 2], dtype: ScalarType.Float64, generator: g));
    }

    static Tensor Exact(Tensor x, Tensor t, Tensor c)
    {
        var tt = TrigFlow.PerSample(t, x);
        return (tt.cos() * x - c) / tt.sin();
    }

    [TestCase(0.0, TangentMethod.DoubleBackward)]
    [TestCase(0.5, TangentMethod.DoubleBackward)]
    [TestCase(1.0, TangentMethod.DoubleBackward)]
    [TestCase(1.0, TangentMethod.FiniteDifference)]
    public void TheExactConsistencyFunctionHasNothingToLearn(double warmup, TangentMethod method)
    {
        using var scope = NewDisposeScope();
        var (x, t, c) = Draw();
        var teacherF = Exact(x, t, c);
        using var terms = ScmObjective.Compute((xi, ti) => Exact(xi, ti, c), x, t, teacherF, warmup, weight: 100, method, 1e-4);
        double loss = terms.Loss.item<double>();
        TestContext.Out.WriteLine($"r = {warmup}, {method}: loss {loss:E2}, g rms {terms.DirectionRms:E2}");
        Assert.That(loss, Is.LessThan(method == TangentMethod.DoubleBackward ? 1e-24 : 1e-12));
        Assert.That(terms.DirectionRms, Is.LessThan(method == TangentMethod.DoubleBackward ? 1e-12 : 1e-6));
    }

    /// <summary>
    /// A student F* + a·x against the exact teacher: along the teacher's path its tangent is −x + a·F*, so
    /// g = −a·cos t·√(1 − r²sin²t)·x − r·a·cos t·sin t·F*, and the loss's gradient in a is −2·w·mean⟨ĝ, x⟩.
    /// </summary>
    [Test]
    public void TheDirectionAndTheGradientAreRcmsFormula()
    {
        using var scope = NewDisposeScope();
        var (x, t, c) = Draw();
        var a = tensor(0.2, dtype: ScalarType.Float64).requires_grad_();
        const double r = 0.5, weight = 100;
        var teacherF = Exact(x, t, c);
        var terms = ScmObjective.Compute((xi, ti) => Exact(xi, ti, c) + a * xi, x, t, teacherF, r, weight, TangentMethod.DoubleBackward);

        var tt = TrigFlow.PerSample(t, x);
        var (cos, sin) = (tt.cos(), tt.sin());
        var g = -0.2 * cos * (1 - r * r * sin.square()).sqrt() * x - r * 0.2 * cos * sin * teacherF;
        var norms = g.flatten(1).norm(1).view(3, 1, 1, 1, 1);
        var normalised = g / (norms + ScmObjective.NormGuard);
        Assert.That(terms.DirectionRms, Is.EqualTo((norms.square().mean() / g[0].numel()).sqrt().item<double>()).Within(1e-12));
        Assert.That(terms.Loss.item<double>(), Is.EqualTo(weight * normalised.square().flatten(1).sum(1).mean().item<double>()).Within(1e-10),
            "the loss's value is w·‖ĝ‖²");
        terms.Loss.backward();
        double expected = -2 * weight * (normalised * x).flatten(1).sum(1).mean().item<double>();
        Assert.That(a.grad!.item<double>(), Is.EqualTo(expected).Within(1e-9 * Math.Abs(expected)));
    }

    /// <summary>
    /// With the full tangent (r = 1), training a perturbed exact student F* + a·x on the sCM loss removes the
    /// perturbation: the consistency direction points back to the consistent model.
    /// </summary>
    [Test]
    public void ScmStepsRestoreAPerturbedConsistentStudent()
    {
        using var scope = NewDisposeScope();
        var (_, _, c) = Draw();
        var a = nn.Parameter(tensor(0.2, dtype: ScalarType.Float64));
        using var optimizer = optim.Adam([a], 0.02);
        double Residual(long seed)
        {
            using var inner = NewDisposeScope();
            var g = new Generator((ulong)seed);
            var t = 0.3 + rand([8], dtype: ScalarType.Float64, generator: g);
            var x = TrigFlow.Noised(c.expand(8, -1, -1, -1, -1), randn([8, 2, 1, 2, 2], dtype: ScalarType.Float64, generator: g), t);
            var terms = ScmObjective.Compute((xi, ti) => Exact(xi, ti, c) + a * xi, x, t, Exact(x, t, c), 1, 100, TangentMethod.DoubleBackward);
            if (seed >= 0)
            {
                optimizer.zero_grad();
                terms.Loss.backward();
                optimizer.step();
            }
            return terms.DirectionRms;
        }
        double before = Residual(-1);
        for (int step = 0; step < 30; step++) Residual(step);
        double after = Residual(-1);
        TestContext.Out.WriteLine($"a: 0.2 → {a.item<double>():F4}; g rms {before:F4} → {after:F4}");
        Assert.That(Math.Abs(a.item<double>()), Is.LessThan(0.05)); // measured 0.023
        Assert.That(after, Is.LessThan(0.25 * before));              // measured 0.117 → 0.013
    }

    [Test]
    public void BackwardSimulationFollowsTheStudentsOwnSampler()
    {
        using var scope = NewDisposeScope();
        var c = tensor(new[] { 0.5, -1.0 }).view(1, 2);
        var times = new Queue<double>([1.2, 1.4, 0.7]);
        var noises = new List<Tensor>();
        Tensor Noise()
        {
            var n = randn([2, 2], dtype: ScalarType.Float64, generator: new Generator((ulong)noises.Count + 1));
            noises.Add(n.clone().DetachFromDisposeScope()); // the simulation disposes its own temporaries
            return n;
        }
        Tensor NextTime() => full([2], times.Dequeue(), dtype: ScalarType.Float64);

        var (start, startT) = DmdObjective.Simulate((xi, _) => c.expand_as(xi), [2, 2], 0, NextTime, Noise, ScalarType.Float64, CPU);
        Assert.That(startT.eq(TrigFlow.MaxTime).all().item<bool>() && start.eq(noises[0]).all().item<bool>(), "no step: pure noise at π/2");

        noises.Clear();
        var (xt, t) = DmdObjective.Simulate((xi, _) => c.expand_as(xi), [2, 2], 3, NextTime, Noise, ScalarType.Float64, CPU);
        // times drawn 1.2, 1.4, 0.7 → min with the current: 1.2, 1.2, 0.7; the last point noises c afresh at 0.7
        Assert.That(t.data<double>().ToArray(), Is.EqualTo(new[] { 0.7, 0.7 }));
        var expected = Math.Cos(0.7) * c + Math.Sin(0.7) * noises[^1];
        Assert.That(xt.allclose(expected, rtol: 0, atol: 1e-15));
    }

    [Test]
    public void DmdPullsSamplesFromTheCriticTowardsTheTeacher()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(5);
        var generated = randn([2, 3, 4], dtype: ScalarType.Float64, generator: g).requires_grad_();
        var fake = randn([2, 3, 4], dtype: ScalarType.Float64, generator: g);
        var teacher = randn([2, 3, 4], dtype: ScalarType.Float64, generator: g);
        var loss = DmdObjective.GeneratorLoss(generated, fake, teacher, weight: 2);
        loss.backward();
        var scale = (generated.detach() - teacher).abs().mean([1, 2], keepdim: true);
        var direction = (fake - teacher) / scale;
        Assert.That(loss.item<double>(), Is.EqualTo(2 * direction.square().sum([1, 2]).mean().item<double>()).Within(1e-12));
        Assert.That(generated.grad!.allclose(2 * 2 * direction / 2, rtol: 1e-12, atol: 0), "∂loss/∂G = 2·w·direction / B");
        Assert.That(DmdObjective.GeneratorLoss(generated, teacher, teacher, 1).item<double>(), Is.Zero, "a critic that agrees with the teacher pulls nowhere");
    }

    [Test]
    public void TheCriticsLossIsItsDenoisingErrorInFsUnits()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(6);
        var generated = randn([2, 3], dtype: ScalarType.Float64, generator: g);
        var fake = randn([2, 3], dtype: ScalarType.Float64, generator: g);
        var t = tensor(new[] { 0.5, 1.5 });
        var expected = ((generated - fake).square() / t.sin().square().view(2, 1)).sum(1).mean().item<double>();
        Assert.That(DmdObjective.CriticLoss(generated, fake, t, weight: 3).item<double>(), Is.EqualTo(3 * expected).Within(1e-12));
        Assert.That(DmdObjective.CriticLoss(generated, generated, t, 1).item<double>(), Is.Zero);
        Assert.That(RcmTimesAreInRange(), "p_G and p_D times lie in (0, π/2]");
    }

    static bool RcmTimesAreInRange()
    {
        using var g = new Generator(8);
        using var consistency = RcmTimes.Consistency(1000, 0.7, 1.6, g, ScalarType.Float64, CPU);
        using var shifted = RcmTimes.Shifted(1000, 5, g, ScalarType.Float64, CPU);
        return consistency.gt(0).all().item<bool>() && consistency.lt(TrigFlow.MaxTime).all().item<bool>()
            && shifted.gt(0).all().item<bool>() && shifted.le(TrigFlow.MaxTime + 1e-15).all().item<bool>()
            && shifted.median().item<double>() > Math.PI / 4; // shift 5 spends most draws at high noise
    }
}
