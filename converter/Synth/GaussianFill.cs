using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Turbo.Converter.Synth;

/// <summary>
/// Fills buffers with seeded, approximately normal random numbers, fast enough that writing a multi-GB synthetic
/// checkpoint is bound by the disk. Each value is an Irwin–Hall sum of four 16-bit uniforms taken from one
/// xoshiro256** output, rescaled to mean 0 and variance exactly 1 (tails end at ±3.46σ: fine for weights whose only
/// job is a realistic size and magnitude). Work is split into fixed chunks of elements, each with its own stream
/// derived from (seed, stream, chunk index), so the values depend neither on the thread count nor on how a caller
/// slices a large tensor (as long as slices start at multiples of <see cref="ChunkElements"/>).
/// </summary>
public static class GaussianFill
{
    public const int ChunkElements = 1 << 16;
    const double SumMean = 4 * 65535 / 2.0;
    static readonly double SumStd = Math.Sqrt((65536.0 * 65536.0 - 1) / 3.0);

    /// <summary>values[i] = mean + std·z as float32; <paramref name="firstElement"/> is the slice's position in the tensor.</summary>
    public static void Float32(Span<float> values, long firstElement, double mean, double std, ulong seed, ulong stream) =>
        Fill(MemoryMarshal.Cast<float, byte>(values), sizeof(float), firstElement, mean, std, seed, stream);

    /// <summary>values[i] = mean + std·z as bfloat16 bits (round to nearest even).</summary>
    public static void BFloat16(Span<ushort> values, long firstElement, double mean, double std, ulong seed, ulong stream) =>
        Fill(MemoryMarshal.Cast<ushort, byte>(values), sizeof(ushort), firstElement, mean, std, seed, stream);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }

    static unsafe void Fill(Span<byte> bytes, int elementSize, long firstElement, double mean, double std, ulong seed, ulong stream)
    {
        if (firstElement % ChunkElements != 0)
            throw new ArgumentException($"slices must start at a multiple of {ChunkElements} elements", nameof(firstElement));
        long length = bytes.Length / elementSize;
        long chunks = (length + ChunkElements - 1) / ChunkElements, firstChunk = firstElement / ChunkElements;
        float scale = (float)(std / SumStd), offset = (float)(mean - SumMean * std / SumStd);
        fixed (byte* pinned = bytes)
        {
            byte* basePtr = pinned;
            Parallel.For(0L, chunks, chunk =>
            {
                long start = chunk * ChunkElements;
                int count = (int)Math.Min(ChunkElements, length - start);
                var rng = new Xoshiro256(seed, stream, (ulong)(firstChunk + chunk));
                if (elementSize == sizeof(float))
                {
                    float* p = (float*)basePtr + start;
                    for (int i = 0; i < count; i++) p[i] = SumOfFour(ref rng) * scale + offset;
                }
                else
                {
                    ushort* p = (ushort*)basePtr + start;
                    for (int i = 0; i < count; i++) p[i] = ToBFloat16(SumOfFour(ref rng) * scale + offset);
                }
            });
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float SumOfFour(ref Xoshiro256 rng)
    {
        ulong r = rng.Next();
        return (r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48);
    }

    /// <summary>xoshiro256** (Blackman and Vigna), state seeded through SplitMix64.</summary>
    struct Xoshiro256
    {
        ulong _s0, _s1, _s2, _s3;

        public Xoshiro256(ulong seed, ulong stream, ulong chunk)
        {
            ulong x = seed ^ (stream * 0x9E3779B97F4A7C15UL) ^ (chunk * 0xD1B54A32D192ED03UL);
            _s0 = SplitMix(ref x);
            _s1 = SplitMix(ref x);
            _s2 = SplitMix(ref x);
            _s3 = SplitMix(ref x);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ulong Next()
        {
            ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
            ulong t = _s1 << 17;
            _s2 ^= _s0;
            _s3 ^= _s1;
            _s1 ^= _s2;
            _s0 ^= _s3;
            _s2 ^= t;
            _s3 = ulong.RotateLeft(_s3, 45);
            return result;
        }

        static ulong SplitMix(ref ulong x)
        {
            ulong z = x += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
