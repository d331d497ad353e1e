using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Distiller.Rcm;

/// <summary>The sCM term of one student step: the loss to back-propagate and the size of the update direction g.</summary>
public sealed record ScmTerms(Tensor Loss, double DirectionRms) : IDisposable
{
    public void Dispose() => Loss.Dispose();
}

/// <summary>
/// The continuous-time consistency (sCM) objective as rCM trains it, with σ_d = 1. At a noisy point x_t of a data
/// sample, the guided teacher's F is the direction of its probability-flow ODE, dx_t/dt. The student's tangent
/// along it, T = cos t·sin t·dF_θ/dt, is one JVP of F_θ(x_t, t) in the direction (cos t·sin t·F_teacher, cos t·sin t)
/// ("JVP rearrangement": the cos t·sin t factor keeps it bounded at both ends of [0, π/2]). With the tangent
/// warm-up ratio r (0 → 1 over the first steps):
/// <code>
///   g    = −cos t·√(1 − r²·sin²t)·(F_θ⁻ − F_teacher) − r·(cos t·sin t·x_t + T)      (F_θ⁻: F_θ without gradient)
///   ĝ    = g / (‖g‖ + 0.1)                                                     (per sample)
///   loss = weight · mean over samples of ‖F_θ − F_θ⁻ − ĝ‖²
/// </code>
/// The loss's value is weight·‖ĝ‖², but its gradient is −2·weight·ĝ·∂F_θ/∂θ: a step moves F_θ along ĝ. At r = 0 that
/// is plain regression onto the teacher; at r = 1, g vanishes when x0 = cos t·x_t − sin t·F_θ stays constant along
/// the teacher's trajectory — the consistency condition.
/// </summary>
public static class ScmObjective
{
    /// <summary>The normaliser's guard: rCM's ‖g‖ + 0.1.</summary>
    public const double NormGuard = 0.1;

    /// <param name="student">F_θ(x_t, t) with the prompt bound, differentiable in the student's weights and in (x_t, t)</param>
    /// <param name="teacherF">the guided teacher's F at (x_t, t), without gradient</param>
    /// <param name="warmup">the tangent warm-up ratio r in [0, 1]</param>
    public static ScmTerms Compute(Func<Tensor, Tensor, Tensor> student, Tensor xt, Tensor t, Tensor teacherF, double warmup,
        double weight, TangentMethod method, double finiteDifferenceStep = Tangent.DefaultStep)
    {
        using var scope = NewDisposeScope();
        var tt = TrigFlow.PerSample(t, xt);
        var (cos, sin) = (tt.cos(), tt.sin());
        var tangent = Tangent.Jvp(student, xt, t, cos * sin * teacherF, t.cos() * t.sin(), method, finiteDifferenceStep);

        var f = student(xt, t);
        var frozen = f.detach();
        var g = -cos * (1 - warmup * warmup * sin.square()).sqrt() * (frozen - teacherF) - warmup * (cos * sin * xt + tangent);
        var norms = g.flatten(1).norm(1, keepdim: false).view(tt.shape);
        var direction = g / (norms + NormGuard);
        var perSample = (f - frozen - direction).square().flatten(1).sum(1);
        var loss = weight * perSample.mean();
        double rms = (norms.square().mean() / g[0].numel()).sqrt().to(ScalarType.Float64).item<double>();
        return new ScmTerms(loss.MoveToOuterDisposeScope(), rms);
    }
}
