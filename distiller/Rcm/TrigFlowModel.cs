using Turbo.Runtime.Models;
using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Distiller.Rcm;

/// <summary>
/// A Wan velocity model seen in TrigFlow (<see cref="TrigFlow"/>): at (x_t, t) it is called at the rectified-flow
/// point x_s = x_t / (cos t + sin t), timestep 1000·s, and its velocity is turned into F. Every step is differentiable,
/// in x_t and t as in the weights, so the tangent dF/dt along a trajectory can be taken through it.
/// </summary>
public sealed class TrigFlowModel
{
    readonly ConditionedModel _velocity;

    public TrigFlowModel(ConditionedModel velocity) => _velocity = velocity;

    public static TrigFlowModel Of(WanModel model) => new((x, timestep, context) => model.Forward(x, timestep, context));

    /// <summary>F(x_t, t) for the prompt embeddings <paramref name="context"/> [B, L, TextDim]; t is [B] in x_t's dtype.</summary>
    public Tensor F(Tensor xt, Tensor t, Tensor context) => F(xt, t, (x, timestep) => _velocity(x, timestep, context));

    /// <summary>
    /// F of the model under classifier-free guidance against <paramref name="negative"/> (Wan's convention:
    /// v_u + g·(v_c − v_u)); F is affine in v with unit weight, so guiding v is guiding F (and x0).
    /// </summary>
    public Tensor GuidedF(Tensor xt, Tensor t, Tensor context, Tensor negative, double guidance) =>
        F(xt, t, ClassifierFreeGuidance.Guided(_velocity, context, negative, guidance));

    /// <summary>The clean estimate x0 = cos t·x_t − sin t·F.</summary>
    public Tensor X0(Tensor xt, Tensor t, Tensor context)
    {
        using var f = F(xt, t, context);
        return TrigFlow.X0(xt, t, f);
    }

    public Tensor GuidedX0(Tensor xt, Tensor t, Tensor context, Tensor negative, double guidance)
    {
        using var f = GuidedF(xt, t, context, negative, guidance);
        return TrigFlow.X0(xt, t, f);
    }

    static Tensor F(Tensor xt, Tensor t, VelocityModel velocity)
    {
        using var scope = NewDisposeScope();
        var s = TrigFlow.ToRectified(t);
        var v = velocity(TrigFlow.ToRectifiedPoint(xt, t), s * FlowMatchSchedule.TrainTimesteps);
        return TrigFlow.F(xt, t, v.to(xt.dtype)).MoveToOuterDisposeScope();
    }
}
