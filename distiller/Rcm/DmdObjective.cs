using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Distiller.Rcm;

/// <summary>
/// rCM's score-distillation (DMD) regulariser and the critic that serves it, with σ_d = 1. The critic ("fake score",
/// a copy of the teacher) learns to denoise the student's own samples; the student's samples are then pulled from
/// where the critic says they are towards where the guided teacher would put them.
/// </summary>
public static class DmdObjective
{
    /// <summary>The floor of the per-sample normaliser mean |G − x0_teacher| (rCM's).</summary>
    public const double NormFloor = 1e-5;

    /// <summary>
    /// Backward simulation: the student's own few-step sampling from pure noise (TrigFlow time π/2), <paramref name="steps"/>
    /// steps without gradient, each clean estimate noised again to a time drawn by <paramref name="nextTime"/> but never
    /// above the current one. Returns the point (x_t, t) at which the student's next, final, step is taken: the sample
    /// it would draw there is what the DMD term and the critic look at.
    /// </summary>
    public static (Tensor Xt, Tensor T) Simulate(Func<Tensor, Tensor, Tensor> studentX0, long[] shape, int steps,
        Func<Tensor> nextTime, Func<Tensor> freshNoise, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var t = full([shape[0]], TrigFlow.MaxTime, dtype: dtype, device: device);
        var xt = freshNoise();
        for (int i = 0; i < steps; i++)
        {
            var x0 = studentX0(xt, t);
            t = minimum(nextTime(), t);
            xt = TrigFlow.Noised(x0, freshNoise(), t);
        }
        return (xt.MoveToOuterDisposeScope(), t.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The student's DMD loss for its samples G (with gradient): the critic's and the guided teacher's clean estimates
    /// of G noised to a critic time give the direction (x0_fake − x0_teacher) / mean|G − x0_teacher|, and
    /// loss = weight · mean over samples of ‖G − sg(G − direction)‖² — whose gradient moves G against the direction.
    /// </summary>
    public static Tensor GeneratorLoss(Tensor generated, Tensor fakeX0, Tensor teacherX0, double weight)
    {
        using var scope = NewDisposeScope();
        Tensor direction;
        using (no_grad())
        {
            var frozen = generated.detach();
            var dims = Enumerable.Range(1, (int)frozen.dim() - 1).Select(d => (long)d).ToArray();
            var scale = (frozen - teacherX0).abs().mean(dims, keepdim: true).clamp_min(NormFloor);
            direction = (fakeX0 - teacherX0) / scale;
            direction = (frozen - direction).detach();
        }
        var perSample = (generated - direction).square().flatten(1).sum(1);
        return (weight * perSample.mean()).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The critic's denoising loss on the student's samples G (without gradient), noised to time t:
    /// weight · mean over samples of ‖G − x0_fake‖² / sin²t — the denoising loss in F's units (x0 = cos t·x_t − sin t·F).
    /// </summary>
    public static Tensor CriticLoss(Tensor generated, Tensor fakeX0, Tensor t, double weight)
    {
        using var scope = NewDisposeScope();
        var sin = TrigFlow.PerSample(t, generated).sin();
        var perSample = ((generated.detach() - fakeX0).square() / sin.square()).flatten(1).sum(1);
        return (weight * perSample.mean()).MoveToOuterDisposeScope();
    }
}
