using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Attention;

/// <summary>Agreement measures between an attention output and its reference, computed in float64.</summary>
static class AttentionMetrics
{
    /// <summary>Cosine similarity of the two tensors seen as flat vectors.</summary>
    public static double Cosine(Tensor ours, Tensor reference)
    {
        using var scope = NewDisposeScope();
        var (a, b) = Flat(ours, reference);
        return ((a * b).sum() / (a.norm() * b.norm())).item<double>();
    }

    /// <summary>Σ|ours − reference| / Σ|reference|.</summary>
    public static double RelativeL1(Tensor ours, Tensor reference)
    {
        using var scope = NewDisposeScope();
        var (a, b) = Flat(ours, reference);
        return ((a - b).abs().sum() / b.abs().sum()).item<double>();
    }

    /// <summary>max |ours − reference| / max |reference|.</summary>
    public static double MaxRelative(Tensor ours, Tensor reference)
    {
        using var scope = NewDisposeScope();
        var (a, b) = Flat(ours, reference);
        return ((a - b).abs().max() / b.abs().max()).item<double>();
    }

    static (Tensor, Tensor) Flat(Tensor ours, Tensor reference)
    {
        Assert.That(ours.shape, Is.EqualTo(reference.shape), "shape");
        return (ours.to(ScalarType.Float64).flatten(), reference.to(ScalarType.Float64).flatten());
    }

    /// <summary>
    /// Random inputs [B, H, L, D]: q ~ N(0, qScale²) (the logits' spread), k ~ N(0, 1) plus a per-channel offset
    /// ~ N(0, 3²) shared by all tokens (the channel outliers real keys have, which K smoothing removes), v ~ N(0, 1)
    /// plus a per-channel offset ~ N(0, vOffset²) (real values have channel means; 0 gives zero-mean values).
    /// </summary>
    public static (Tensor Q, Tensor K, Tensor V) RandomQkv(long batch, long heads, long length, long dim, long seed,
        ScalarType dtype = ScalarType.Float32, double qScale = 1, double vOffset = 0)
    {
        using var scope = NewDisposeScope();
        var generator = manual_seed(seed);
        var q = randn([batch, heads, length, dim], generator: generator) * qScale;
        var k = randn([batch, heads, length, dim], generator: generator) + randn([batch, heads, 1, dim], generator: generator) * 3;
        var v = randn([batch, heads, length, dim], generator: generator) + randn([batch, heads, 1, dim], generator: generator) * vOffset;
        return (q.to(dtype).MoveToOuterDisposeScope(), k.to(dtype).MoveToOuterDisposeScope(), v.to(dtype).MoveToOuterDisposeScope());
    }

    public static string ShapeText(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
}
