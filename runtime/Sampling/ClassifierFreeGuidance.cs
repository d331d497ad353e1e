using static TorchSharp.torch;

namespace Turbo.Runtime.Sampling;

/// <summary>
/// A text-conditioned model: latents [B, ...], timesteps [B], context [B, L, TextDim] → velocity (e.g. WanModel.Forward).
/// </summary>
public delegate Tensor ConditionedModel(Tensor x, Tensor timestep, Tensor context);

/// <summary>Classifier-free guidance: v = v_uncond + g·(v_cond − v_uncond).</summary>
public static class ClassifierFreeGuidance
{
    public static Tensor Combine(Tensor conditional, Tensor unconditional, double guidanceScale)
    {
        using var difference = conditional - unconditional;
        using var scaled = difference * guidanceScale;
        return unconditional + scaled;
    }

    /// <summary>
    /// The guided velocity as a sampler sees it. When both contexts have the same shape, the conditional and the
    /// unconditional pass run as one forward of twice the batch (the same numbers, one call); otherwise as two.
    /// A guidance scale of 1 needs only the conditional pass.
    /// </summary>
    public static VelocityModel Guided(ConditionedModel model, Tensor context, Tensor negativeContext, double guidanceScale)
    {
        if (!double.IsFinite(guidanceScale))
            throw new TurboException($"guidance scale must be finite, found {guidanceScale}");
        if (guidanceScale == 1.0) return (x, t) => model(x, t, context);
        bool batched = context.shape.SequenceEqual(negativeContext.shape);
        return (x, t) =>
        {
            using var scope = NewDisposeScope();
            Tensor conditional, unconditional;
            if (batched && context.shape[0] == x.shape[0])
            {
                var both = model(cat([x, x]), cat([t, t]), cat([context, negativeContext]));
                var halves = both.chunk(2);
                (conditional, unconditional) = (halves[0], halves[1]);
            }
            else
            {
                conditional = model(x, t, context);
                unconditional = model(x, t, negativeContext);
            }
            return Combine(conditional, unconditional, guidanceScale).MoveToOuterDisposeScope();
        };
    }
}
