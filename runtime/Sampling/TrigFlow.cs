using static TorchSharp.torch;

namespace Turbo.Runtime.Sampling;

/// <summary>
/// TrigFlow, the parameterisation rCM/sCM train in, and its exact correspondence with Wan's rectified flow.
/// <code>
///   rectified flow (Wan):  x_s = (1 − s)·x0 + s·ε,       s ∈ [0, 1], the model's velocity v = ε − x0 at timestep 1000·s
///   TrigFlow:              x_t = cos t·x0 + sin t·σ_d·ε,  t ∈ [0, π/2], F with x0 = cos t·x_t − σ_d·sin t·F
/// </code>
/// Here σ_d = 1: Wan's latents are normalised per channel to unit variance and its noise is N(0, I), and rCM itself
/// only admits σ_d = 1 for rectified-flow teachers. Then the two paths hold the same points, rescaled:
/// <code>
///   x_t = (cos t + sin t)·x_s    with    s = sin t / (sin t + cos t),   t = atan2(s, 1 − s)
///   F   = ((cos t − sin t)·x_t + v) / (cos t + sin t)        v = (cos t + sin t)·F − (cos t − sin t)·x_t
///   x0  = (x_t − sin t·v) / (cos t + sin t)  = cos t·x_t − sin t·F
/// </code>
/// F is TrigFlow's probability-flow velocity (dx_t/dt = F), as v is rectified flow's (dx_s/ds = v). The forms above
/// divide by cos t + sin t ≥ 1 only, so they hold at t = 0 and t = π/2 alike. Times t are per sample: a tensor [B]
/// broadcast over the other dimensions of x, in x's dtype.
/// </summary>
public static class TrigFlow
{
    /// <summary>The largest TrigFlow time (pure noise).</summary>
    public const double MaxTime = Math.PI / 2;

    /// <summary>Rectified-flow time s = sin t / (sin t + cos t).</summary>
    public static double ToRectified(double t) => Math.Sin(t) / (Math.Sin(t) + Math.Cos(t));

    /// <summary>TrigFlow time t = atan2(s, 1 − s), the inverse of <see cref="ToRectified(double)"/>.</summary>
    public static double FromRectified(double s) => Math.Atan2(s, 1 - s);

    public static Tensor ToRectified(Tensor t)
    {
        using var sin = t.sin();
        using var sum = sin + t.cos();
        return sin / sum;
    }

    public static Tensor FromRectified(Tensor s)
    {
        using var rest = 1 - s;
        return s.atan2(rest);
    }

    /// <summary>The TrigFlow point x_t = cos t·x0 + sin t·ε.</summary>
    public static Tensor Noised(Tensor x0, Tensor noise, Tensor t)
    {
        using var scope = NewDisposeScope();
        var tt = PerSample(t, x0);
        return (tt.cos() * x0 + tt.sin() * noise).MoveToOuterDisposeScope();
    }

    /// <summary>The rectified-flow point of a TrigFlow point: x_s = x_t / (cos t + sin t).</summary>
    public static Tensor ToRectifiedPoint(Tensor xt, Tensor t)
    {
        using var scope = NewDisposeScope();
        var tt = PerSample(t, xt);
        return (xt / (tt.cos() + tt.sin())).MoveToOuterDisposeScope();
    }

    /// <summary>The TrigFlow point of a rectified-flow point x_s at TrigFlow time t: x_t = (cos t + sin t)·x_s.</summary>
    public static Tensor FromRectifiedPoint(Tensor xs, Tensor t)
    {
        using var scope = NewDisposeScope();
        var tt = PerSample(t, xs);
        return (xs * (tt.cos() + tt.sin())).MoveToOuterDisposeScope();
    }

    /// <summary>F from the rectified-flow velocity v at (x_t, t).</summary>
    public static Tensor F(Tensor xt, Tensor t, Tensor v)
    {
        using var scope = NewDisposeScope();
        var tt = PerSample(t, xt);
        var (cos, sin) = (tt.cos(), tt.sin());
        return (((cos - sin) * xt + v) / (cos + sin)).MoveToOuterDisposeScope();
    }

    /// <summary>The rectified-flow velocity v from F at (x_t, t).</summary>
    public static Tensor Velocity(Tensor xt, Tensor t, Tensor f)
    {
        using var scope = NewDisposeScope();
        var tt = PerSample(t, xt);
        var (cos, sin) = (tt.cos(), tt.sin());
        return ((cos + sin) * f - (cos - sin) * xt).MoveToOuterDisposeScope();
    }

    /// <summary>The clean estimate x0 = cos t·x_t − sin t·F.</summary>
    public static Tensor X0(Tensor xt, Tensor t, Tensor f)
    {
        using var scope = NewDisposeScope();
        var tt = PerSample(t, xt);
        return (tt.cos() * xt - tt.sin() * f).MoveToOuterDisposeScope();
    }

    /// <summary>t [B] viewed as [B, 1, …, 1] to broadcast over x.</summary>
    public static Tensor PerSample(Tensor t, Tensor x)
    {
        if (t.dim() != 1 || t.shape[0] != x.shape[0])
            throw new TurboException($"TrigFlow time: expected shape [{x.shape[0]}] (one per sample), found [{string.Join(", ", t.shape)}]");
        return t.view([x.shape[0], .. Enumerable.Repeat(1L, (int)x.dim() - 1)]);
    }
}
