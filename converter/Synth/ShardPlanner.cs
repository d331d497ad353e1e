namespace Turbo.Converter.Synth;

/// <summary>
/// Chooses the shard size limit that makes the writer's greedy in-order split produce the requested number of
/// shards (or fewer, when there are fewer tensors than shards): the smallest limit that needs at most that many.
/// </summary>
public static class ShardPlanner
{
    public static long MaxShardBytesFor(IReadOnlyList<long> tensorBytes, int shards)
    {
        long low = Math.Max(1, tensorBytes.Max()), high = Math.Max(low, tensorBytes.Sum());
        while (low < high)
        {
            long mid = low + (high - low) / 2;
            if (GreedyShardCount(tensorBytes, mid) <= shards) high = mid;
            else low = mid + 1;
        }
        return low;
    }

    /// <summary>Shards a greedy in-order split makes: a new shard starts when the next tensor would overflow the limit.</summary>
    public static int GreedyShardCount(IReadOnlyList<long> tensorBytes, long maxShardBytes)
    {
        int count = 1;
        long size = 0;
        bool empty = true;
        foreach (long bytes in tensorBytes)
        {
            if (!empty && size + bytes > maxShardBytes)
            {
                count++;
                size = 0;
            }
            size += bytes;
            empty = false;
        }
        return count;
    }
}
