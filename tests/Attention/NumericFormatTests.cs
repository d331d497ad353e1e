using Turbo.Tests.Support;
using Turbo.Runtime.Attention;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Tests.Attention;

/// <summary>The emulated FP8 E4M3 rounding and the per-block INT8 quantizer, against values worked out by hand.</summary>
public class NumericFormatTests
{
    /// <summary>Every finite E4M3 value, decoded from its bit pattern (sign, 4 exponent bits with bias 7, 3 mantissa bits).</summary>
    static IEnumerable<(int Code, double Value)> E4M3Values()
    {
        for (int code = 0; code < 256; code++)
        {
            int exponent = (code >> 3) & 0xF, mantissa = code & 7;
            if (exponent == 15 && mantissa == 7) continue; // NaN
            double magnitude = exponent == 0 ? mantissa / 8.0 * Math.Pow(2, -6) : (1 + mantissa / 8.0) * Math.Pow(2, exponent - 7);
            yield return (code, (code & 0x80) != 0 ? -magnitude : magnitude);
        }
    }

    static float[] Round(IEnumerable<double> values)
    {
        using var input = tensor(values.Select(v => (float)v).ToArray());
        using var rounded = Fp8E4M3.Round(input);
        return rounded.data<float>().ToArray();
    }

    [Test]
    public void EveryE4M3ValueRoundsToItself()
    {
        var values = E4M3Values().Select(v => v.Value).ToArray();
        Assert.That(values.Max(), Is.EqualTo(448.0));
        Assert.That(Round(values), Is.EqualTo(values.Select(v => (float)v).ToArray()));
    }

    [Test]
    public void MidpointsRoundToEvenMantissaAndNeighboursToNearest()
    {
        var positive = E4M3Values().Where(v => v.Code < 0x80).OrderBy(v => v.Value).ToArray();
        var midpoints = new List<double>();
        var expected = new List<double>();
        for (int i = 0; i + 1 < positive.Length; i++)
        {
            var (low, high) = (positive[i], positive[i + 1]);
            double mid = (low.Value + high.Value) / 2;
            midpoints.Add(mid);
            expected.Add((low.Code & 1) == 0 ? low.Value : high.Value); // adjacent codes: exactly one has an even mantissa
            double gap = high.Value - low.Value;
            midpoints.Add(mid - gap / 8);
            expected.Add(low.Value);
            midpoints.Add(-(mid + gap / 8));
            expected.Add(-high.Value);
        }
        Assert.That(Round(midpoints), Is.EqualTo(expected.Select(v => (float)v).ToArray()));
    }

    [Test]
    public void OutOfRangeSaturatesAndTinyValuesFlushOrRoundUp()
    {
        double minSubnormal = Math.Pow(2, -9);
        Assert.That(Round([464, 1e9, -500, minSubnormal / 2, minSubnormal * 0.51, 0, -minSubnormal * 0.49]),
            Is.EqualTo(new float[] { 448, 448, -448, 0, (float)minSubnormal, 0, 0 }));
    }

    [Test]
    public void Int8BlocksUseAbsmaxOver127AndRoundHalfToEven()
    {
        // One (batch, head), blocks of 2 tokens × 3 channels: absmax 127 (scale 1), an all-zero block, a partial block.
        float[] values = [127, 2.5f, -2.5f, 3.5f, 0.5f, 1.5f, 0, 0, 0, 0, 0, 0, 31.75f, -2.625f, 0.375f];
        using var x = tensor(values).view(1, 1, 5, 3);
        var (codes, scales) = Int8BlockQuantizer.Quantize(x, block: 2);
        using (codes)
        using (scales)
        {
            Assert.That(scales.shape, Is.EqualTo(new long[] { 1, 1, 3 }));
            Assert.That(scales.data<float>().ToArray(), Is.EqualTo(new[] { 1f, 1f, 0.25f }));
            Assert.That(codes.dtype, Is.EqualTo(ScalarType.Float32));
            Assert.That(codes.data<float>().ToArray(),
                Is.EqualTo(new float[] { 127, 2, -2, 4, 0, 2, 0, 0, 0, 0, 0, 0, 127, -10, 2 }));
        }
    }

    [Test]
    public void Int8CodesAreTheValuesTimesTheFloat32ReciprocalOfTheScale()
    {
        // What the CUDA quantizer computes: scale = absmax · (1/127 as float), then v · (1/scale as float), rounded to
        // float, then to the nearest even integer. Each pair (absmax, v) is a block of two tokens whose v lies so close
        // to a half that dividing by the scale instead would round it to the other integer.
        (uint Absmax, uint Value)[] blocks = [(0x3fd62783, 0x3e511877), (0x3f8afc64, 0x3efbb4ed), (0x3fefe1c9, 0xbeb91b15)];
        foreach (var (absmaxBits, valueBits) in blocks)
        {
            float absmax = BitConverter.UInt32BitsToSingle(absmaxBits), v = BitConverter.UInt32BitsToSingle(valueBits);
            float scale = absmax * (1f / 127f), inverse = 1f / scale;
            float expected = MathF.Round(v * inverse, MidpointRounding.ToEven);
            Assert.That(MathF.Round(v / scale, MidpointRounding.ToEven), Is.Not.EqualTo(expected), "the case tells the two apart");
            using var x = tensor(new[] { absmax, v }).view(1, 1, 2, 1);
            var (codes, scales) = Int8BlockQuantizer.Quantize(x, block: 2);
            using (codes)
            using (scales)
            {
                Assert.That(scales.data<float>()[0], Is.EqualTo(scale));
                Assert.That(codes.data<float>().ToArray(), Is.EqualTo(new[] { 127f, expected }));
            }
        }
    }
}
