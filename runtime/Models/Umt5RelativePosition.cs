using static TorchSharp.torch;

namespace Turbo.Runtime.Models;

/// <summary>
/// T5's bidirectional relative-position buckets (encoder self-attention). For a query at position i and a key at
/// position j, the relative position is j − i. Half of the buckets serve keys after the query, half the rest; within
/// each half, the first half of the buckets are exact distances and the others are logarithmically wider, the last one
/// holding every distance from max_distance on.
/// </summary>
public static class Umt5RelativePosition
{
    /// <summary>
    /// Bucket index [queryLength, keyLength] int64 on the CPU, in [0, numBuckets).
    ///
    /// The logarithmic buckets are computed with the same float32 tensor operations as transformers, in the same
    /// order, rather than in double precision: where log(distance/max_exact)/log(max_distance/max_exact)·n lands on
    /// (or next to) an integer, float32 rounding decides the bucket, and it must be decided the way upstream decides it.
    /// </summary>
    public static Tensor Buckets(long queryLength, long keyLength, int numBuckets, int maxDistance)
    {
        using var scope = NewDisposeScope();
        var query = arange(queryLength, dtype: ScalarType.Int64).unsqueeze(1);
        var key = arange(keyLength, dtype: ScalarType.Int64).unsqueeze(0);
        var relative = key - query;

        int perDirection = numBuckets / 2;
        var direction = relative.gt(0).to(ScalarType.Int64) * perDirection;
        var distance = relative.abs();

        int maxExact = perDirection / 2;
        var isSmall = distance.lt(maxExact);
        // Clamping only touches distances that take the exact branch; it keeps log(0) = −inf out of the int cast.
        var logRatio = (distance.clamp_min(maxExact).to(ScalarType.Float32) / maxExact).log()
                       / Math.Log((double)maxDistance / maxExact) * (perDirection - maxExact);
        var large = (logRatio.to(ScalarType.Int64) + maxExact).clamp_max(perDirection - 1);
        return (direction + where(isSmall, distance, large)).MoveToOuterDisposeScope();
    }
}
