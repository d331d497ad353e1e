using static TorchSharp.torch;

namespace Turbo.Runtime.Attention;

/// <summary>
/// Checks of the q/k/v layout every backend takes, made in C# before any TorchSharp call (a libtorch shape error
/// would abort the process), and the key-length masks built from <c>keyLengths</c>.
/// </summary>
public static class AttentionInputs
{
    public static void Validate(Tensor q, Tensor k, Tensor v, Tensor? keyLengths)
    {
        foreach (var (name, t) in new[] { ("q", q), ("k", k), ("v", v) })
        {
            if (t.dim() != 4)
                throw new TurboException($"attention {name}: expected 4 dims [B, H, L, D], found {Shape(t)}");
            if (t.dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float64))
                throw new TurboException($"attention {name}: expected a floating-point dtype, found {t.dtype}");
            if (t.dtype != q.dtype || t.device_type != q.device_type || t.device_index != q.device_index)
                throw new TurboException($"attention {name}: expected {q.dtype} on {q.device} like q, found {t.dtype} on {t.device}");
        }
        if (q.shape[0] < 1 || q.shape[1] < 1 || q.shape[2] < 1 || q.shape[3] < 1 || k.shape[2] < 1)
            throw new TurboException($"attention: empty input, q {Shape(q)}, k {Shape(k)}");
        if (k.shape[0] != q.shape[0] || k.shape[1] != q.shape[1] || k.shape[3] != q.shape[3])
            throw new TurboException(
                $"attention k: expected [{q.shape[0]}, {q.shape[1]}, Lk, {q.shape[3]}] to match q {Shape(q)}, found {Shape(k)}");
        if (!v.shape.SequenceEqual(k.shape))
            throw new TurboException($"attention v: expected the shape of k {Shape(k)}, found {Shape(v)}");
        if (keyLengths is not null) ValidateKeyLengths(keyLengths, q.shape[0], k.shape[2]);
    }

    static void ValidateKeyLengths(Tensor keyLengths, long batch, long keys)
    {
        if (keyLengths.dim() != 1 || keyLengths.shape[0] != batch)
            throw new TurboException($"attention key lengths: expected shape [{batch}], found {Shape(keyLengths)}");
        if (keyLengths.dtype is not (ScalarType.Int64 or ScalarType.Int32 or ScalarType.Int16 or ScalarType.Int8 or ScalarType.Byte))
            throw new TurboException($"attention key lengths: expected an integer dtype, found {keyLengths.dtype}");
        foreach (long n in HostLengths(keyLengths, batch, keys))
            if (n < 1 || n > keys)
                throw new TurboException($"attention key lengths: each must be in 1..{keys}, found {n}");
    }

    /// <summary>The key lengths as numbers on the host (all <paramref name="keys"/> when none are given).</summary>
    public static long[] HostLengths(Tensor? keyLengths, long batch, long keys)
    {
        if (keyLengths is null) return Enumerable.Repeat(keys, (int)batch).ToArray();
        using var host = keyLengths.to(ScalarType.Int64, CPU);
        return host.data<long>().ToArray();
    }

    /// <summary>[B, 1, 1, Lk] bool, true where the key takes part.</summary>
    public static Tensor KeyMask(Tensor keyLengths, long keys, Device device)
    {
        using var scope = NewDisposeScope();
        var positions = arange(keys, dtype: ScalarType.Int64, device: device).view(1, 1, 1, keys);
        var lengths = keyLengths.to(ScalarType.Int64, device).view(-1, 1, 1, 1);
        return positions.lt(lengths).MoveToOuterDisposeScope();
    }

    static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
}
