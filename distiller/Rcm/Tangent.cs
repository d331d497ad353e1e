using Turbo.Runtime;
using Turbo.Runtime.Attention;
using static TorchSharp.torch;

namespace Turbo.Distiller.Rcm;

/// <summary>How the tangent (a Jacobian-vector product) of the student is computed; TorchSharp has no forward-mode AD.</summary>
public enum TangentMethod
{
    /// <summary>
    /// Exact, by two reverse passes (double backward). Dense attention is written out for it (libtorch's fused
    /// attention kernels have no second derivative), which costs memory growing with the square of the token count:
    /// the way for models whose attention matrices fit.
    /// </summary>
    DoubleBackward,
    /// <summary>
    /// A fourth-order central difference with a step h: four extra forwards, no second derivative, any attention
    /// kernel. Error O(h⁴) from the truncation plus O(ε/h) from rounding (ε the compute precision).
    /// </summary>
    FiniteDifference,
}

/// <summary>
/// The JVP J·(dx, dt) = d/dε f(x + ε·dx, t + ε·dt) at ε = 0 of a function f(x, t) → y (y shaped like x; t holds one
/// time per sample, [B]). Returned detached: it enters the loss as a constant.
/// </summary>
public static class Tangent
{
    /// <summary>
    /// The finite-difference step used unless told otherwise. F curves fast in t — Wan's time embedding turns the
    /// timestep 1000·s into angles up to 1000 rad — so a plain central difference is poor: on a micro Wan DiT in
    /// float64 it erred by 2e-2 at h = 1e-3, the fourth-order one by 9e-4 (and ~5e-5 at this step), while float32
    /// rounding adds about ε/h ≈ 1e-4 here.
    /// </summary>
    public const double DefaultStep = 5e-4;

    public static Tensor Jvp(Func<Tensor, Tensor, Tensor> f, Tensor x, Tensor t, Tensor dx, Tensor dt, TangentMethod method,
        double step = DefaultStep)
    {
        Validate(x, t, dx, dt);
        return method switch
        {
            TangentMethod.DoubleBackward => ByDoubleBackward(f, x, t, dx, dt),
            TangentMethod.FiniteDifference => ByCentralDifference(f, x, t, dx, dt, step),
            _ => throw new TurboException($"tangent: unknown method {(int)method}"),
        };
    }

    /// <summary>
    /// w(u) = Jᵀu is linear in u, so ∂⟨w(u), (dx, dt)⟩/∂u = J·(dx, dt) for any u (zeros here): the first reverse pass
    /// keeps its graph (create_graph) so that the second can differentiate it with respect to u. f must depend on both
    /// x and t.
    /// <para>
    /// Both passes are backward() into the inputs' .grad rather than autograd.grad: TorchSharp 0.107 lets an error
    /// inside grad (such as running out of memory, what this pass does first on a large model) abort the process,
    /// while backward's becomes an exception. Jᵀu in .grad keeps its graph, which holds the inputs: libtorch has no
    /// cycle collector, so the .grad fields are cleared after (libtorch warns of the cycle once per process).
    /// </para>
    /// </summary>
    static Tensor ByDoubleBackward(Func<Tensor, Tensor, Tensor> f, Tensor x, Tensor t, Tensor dx, Tensor dt)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        using var explicitAttention = DenseAttention.ExplicitMath();
        var xIn = x.detach().requires_grad_();
        var tIn = t.detach().requires_grad_();
        try
        {
            var y = f(xIn, tIn);
            CheckOutput(y, x);
            var u = zeros_like(y).requires_grad_();
            autograd.backward([y], [u], retain_graph: true, create_graph: true, inputs: [xIn, tIn]);
            if (xIn.grad is not { } xTransposed || tIn.grad is not { } tTransposed)
                throw new TurboException("tangent: the exact tangent needs a function of both x and t (its graph must reach both)");
            autograd.backward([xTransposed, tTransposed], [dx.to(xIn.dtype), dt.to(tIn.dtype)], inputs: [u]);
            return u.grad!.detach().MoveToOuterDisposeScope();
        }
        finally
        {
            xIn.grad = null;
            tIn.grad = null;
        }
    }

    /// <summary>(8·(f(+h) − f(−h)) − (f(+2h) − f(−2h))) / 12h: Richardson's combination of two central differences cancels their h² error.</summary>
    static Tensor ByCentralDifference(Func<Tensor, Tensor, Tensor> f, Tensor x, Tensor t, Tensor dx, Tensor dt, double step)
    {
        if (!(step > 0 && double.IsFinite(step)))
            throw new TurboException($"tangent: the finite-difference step must be a positive number, found {step}");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor At(double by)
        {
            var y = f(x + by * dx, t + by * dt);
            CheckOutput(y, x);
            return y;
        }
        var near = At(step) - At(-step);
        var far = At(2 * step) - At(-2 * step);
        return ((8 * near - far) / (12 * step)).MoveToOuterDisposeScope();
    }

    static void Validate(Tensor x, Tensor t, Tensor dx, Tensor dt)
    {
        if (!x.is_floating_point() || !t.is_floating_point() || !dx.is_floating_point() || !dt.is_floating_point())
            throw new TurboException("tangent: x, t and their directions must be floating-point tensors");
        if (x.dim() < 1 || t.dim() != 1 || t.shape[0] != x.shape[0])
            throw new TurboException($"tangent: expected t of shape [{(x.dim() < 1 ? 0 : x.shape[0])}] (one time per sample), found [{string.Join(", ", t.shape)}]");
        if (!dx.shape.SequenceEqual(x.shape) || !dt.shape.SequenceEqual(t.shape))
            throw new TurboException($"tangent: the directions must be shaped like x [{string.Join(", ", x.shape)}] and t [{t.shape[0]}]");
    }

    static void CheckOutput(Tensor y, Tensor x)
    {
        if (!y.shape.SequenceEqual(x.shape))
            throw new TurboException($"tangent: the function must return the shape of x [{string.Join(", ", x.shape)}], found [{string.Join(", ", y.shape)}]");
    }
}
