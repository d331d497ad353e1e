using static TorchSharp.torch;

namespace Turbo.Cli.Attention;

/// <summary>Random attention inputs shaped like a Wan self-attention's, and the exact attention they are judged by.</summary>
static class AttentionSamples
{
    /// <summary>
    /// q ~ N(0, 2²) (logits spread as in real layers), k ~ N(0, 1) plus a per-channel offset ~ N(0, 3²) shared by
    /// all tokens (the outliers K smoothing removes), v ~ N(0, 1) plus a per-channel offset ~ N(0, 1). With
    /// <paramref name="tokenMajor"/> the tensors are [B, H, L, D] views of [B, L, H, D] memory, as WanModel passes them.
    /// </summary>
    /// <param name="rise">if not 0, every query also holds a direction u ~ N(0, 1) per channel, and the keys drift along
    /// it from 0 to rise · u: scores then rise along the keys, by about rise · √D · log2 e in log2 units (40 for 2.5 at D
    /// 128), so that a running row max is raised again and again, and between raises the scores near it</param>
    public static (Tensor Q, Tensor K, Tensor V) Qkv(long batch, long heads, long queries, long keys, long dim,
        ScalarType dtype, bool tokenMajor, Device device, double rise = 0)
    {
        using var scope = NewDisposeScope();
        var q = randn([batch, queries, heads, dim], device: device) * 2;
        var k = randn([batch, keys, heads, dim], device: device) + randn([batch, 1, heads, dim], device: device) * 3;
        if (rise != 0)
        {
            var direction = randn([batch, 1, heads, dim], device: device);
            q += direction;
            k += linspace(0, rise, keys, device: device).view(1, keys, 1, 1) * direction;
        }
        var v = randn([batch, keys, heads, dim], device: device) + randn([batch, 1, heads, dim], device: device);
        Tensor Layout(Tensor x)
        {
            var split = x.to(dtype).transpose(1, 2);
            return (tokenMajor ? split : split.contiguous()).MoveToOuterDisposeScope();
        }
        return (Layout(q), Layout(k), Layout(v));
    }

    /// <summary>Key lengths [B] (int64 on the device): the first sample all keys, the others an odd 5/8 of them.</summary>
    public static Tensor KeyLengths(long batch, long keys, Device device) =>
        tensor(Enumerable.Range(0, (int)batch).Select(b => b == 0 ? keys : 1 + (keys - 1) * 5 / 8).ToArray(), device: device);

    /// <summary>softmax(q·kᵀ/√D)·v in float64, keys past the lengths left out: the exact answer.</summary>
    public static Tensor ExactDense(Tensor q, Tensor k, Tensor v, Tensor? keyLengths)
    {
        using var scope = NewDisposeScope();
        var scores = q.to(ScalarType.Float64).matmul(k.to(ScalarType.Float64).transpose(-1, -2)) / Math.Sqrt(q.shape[3]);
        if (keyLengths is not null)
            scores = scores.masked_fill(Runtime.Attention.AttentionInputs.KeyMask(keyLengths, k.shape[2], q.device).logical_not(),
                double.NegativeInfinity);
        return scores.softmax(-1).matmul(v.to(ScalarType.Float64)).MoveToOuterDisposeScope();
    }
}
