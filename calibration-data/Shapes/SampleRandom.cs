namespace Turbo.CalibrationData.Shapes;

/// <summary>
/// A small deterministic generator (SplitMix64) whose stream depends only on (seed, stream, index), so
/// sample i is the same on every machine and .NET version and can be drawn without drawing samples 0..i-1.
/// </summary>
public sealed class SampleRandom
{
    ulong _state;

    public SampleRandom(ulong seed) => _state = seed;

    /// <summary>The generator of one sample: <paramref name="stream"/> separates splits and uses of the same seed.</summary>
    public static SampleRandom For(ulong seed, ulong stream, long index) =>
        new(Mix(Mix(seed ^ 0x5348415045530000UL) ^ Mix(stream + 0x9E3779B97F4A7C15UL) ^ (ulong)index));

    public ulong NextUInt64()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    public double Uniform(double low, double high) => low + (high - low) * NextDouble();

    /// <summary>Uniform in [0, count).</summary>
    public int Next(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        return (int)(NextDouble() * count);
    }

    public bool Chance(double probability) => NextDouble() < probability;

    public T Pick<T>() where T : struct, Enum
    {
        var values = Enum.GetValues<T>();
        return values[Next(values.Length)];
    }

    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];

    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
