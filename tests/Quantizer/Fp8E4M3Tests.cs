using Turbo.Tests.Support;
using Turbo.Runtime;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Tests.Quantizer;

public class Fp8E4M3Tests
{
    const double Sub = 1.0 / 512; // smallest subnormal, 2^-9

    static (double Value, byte Code) Convert(double x)
    {
        using var input = tensor(new[] { x }, dtype: ScalarType.Float64);
        using var rounded = Fp8E4M3.Round(input);
        using var code = Fp8E4M3.Encode(input);
        return (rounded.item<double>(), code.item<byte>());
    }

    [TestCase(0.0, 0.0, 0x00)]
    [TestCase(Sub, Sub, 0x01)]                        // smallest subnormal
    [TestCase(0.5 * Sub, 0.0, 0x00)]                  // tie between 0 and 2^-9: to even (0)
    [TestCase(1.5 * Sub, 2 * Sub, 0x02)]              // tie between 1 and 2 (x 2^-9): to even (2)
    [TestCase(2.5 * Sub, 2 * Sub, 0x02)]              // tie between 2 and 3: to even (2)
    [TestCase(0.3 * Sub, 0.0, 0x00)]
    [TestCase(7 * Sub, 7 * Sub, 0x07)]                // largest subnormal
    [TestCase(7.5 * Sub, 1.0 / 64, 0x08)]             // tie between 7·2^-9 and 2^-6: to the even code (the smallest normal)
    [TestCase(1.0 / 64, 1.0 / 64, 0x08)]              // smallest normal
    [TestCase(1.0, 1.0, 0x38)]
    [TestCase(1.0625, 1.0, 0x38)]                     // tie between 1 and 1.125: to even mantissa (1)
    [TestCase(1.1875, 1.25, 0x3A)]                    // tie between 1.125 and 1.25: to even mantissa (1.25)
    [TestCase(1.1, 1.125, 0x39)]
    [TestCase(17.0, 16.0, 0x58)]                      // spacing 2 above 16: tie to even
    [TestCase(19.0, 20.0, 0x5A)]
    [TestCase(-19.0, -20.0, 0xDA)]
    [TestCase(448.0, 448.0, 0x7E)]                    // largest finite
    [TestCase(449.0, 448.0, 0x7E)]                    // saturates
    [TestCase(464.0, 448.0, 0x7E)]                    // would be a tie with 480 (not a value): saturates
    [TestCase(1e6, 448.0, 0x7E)]
    [TestCase(-1e6, -448.0, 0xFE)]
    [TestCase(double.PositiveInfinity, 448.0, 0x7E)]
    public void RoundsAndEncodesHandPickedValues(double x, double expected, int code)
    {
        var (value, encoded) = Convert(x);
        Assert.That(value, Is.EqualTo(expected), "rounded value");
        Assert.That(encoded, Is.EqualTo(code), "code");
        Assert.That(Fp8E4M3.Value(encoded), Is.EqualTo(expected), "code's value");
    }

    [Test]
    public void NegativeZeroAndNaNKeepTheirMeaning()
    {
        var (value, code) = Convert(-0.0);
        Assert.That(value, Is.EqualTo(0.0));
        Assert.That(double.IsNegative(value), Is.True);
        Assert.That(code, Is.EqualTo(0x80));
        var (nan, nanCode) = Convert(double.NaN);
        Assert.That(double.IsNaN(nan), Is.True);
        Assert.That(nanCode & 0x7F, Is.EqualTo(Fp8E4M3.NaNCode));
        Assert.That(double.IsNaN(Fp8E4M3.Value(0x7F)) && double.IsNaN(Fp8E4M3.Value(0xFF)), Is.True);
    }

    [Test]
    public void EveryCodeRoundTrips()
    {
        var finite = Enumerable.Range(0, 256).Where(c => (c & 0x7F) != 0x7F).Select(c => (byte)c).ToArray();
        using var codes = tensor(finite, dtype: ScalarType.Byte);
        using var values = Fp8E4M3.Decode(codes);
        using var again = Fp8E4M3.Encode(values);
        using var rounded = Fp8E4M3.Round(values);
        Assert.That(again.data<byte>().ToArray(), Is.EqualTo(finite));
        Assert.That(rounded.data<float>().ToArray(), Is.EqualTo(values.data<float>().ToArray()));
        Assert.That(values.data<float>().ToArray().Max(), Is.EqualTo(448f));
    }

    [Test]
    public void MatchesABruteForceNearestValueSearch()
    {
        var finite = Enumerable.Range(0, 256).Where(c => (c & 0x7F) != 0x7F).Select(c => (Code: c, Value: Fp8E4M3.Value((byte)c))).ToArray();
        var random = new Random(7);
        // log-uniform magnitudes over the whole range (subnormals to saturation), both signs, float32 inputs
        var inputs = Enumerable.Range(0, 4000)
            .Select(_ => (float)((random.Next(2) == 0 ? -1 : 1) * Math.Pow(2, random.NextDouble() * 22 - 12))).ToArray();
        using var x = tensor(inputs);
        using var rounded = Fp8E4M3.Round(x);
        var ours = rounded.data<float>().ToArray();
        for (int i = 0; i < inputs.Length; i++)
        {
            double v = Math.Clamp((double)inputs[i], -Fp8E4M3.MaxFinite, Fp8E4M3.MaxFinite);
            double best = finite.MinBy(c => (Math.Abs(c.Value - v), c.Code % 2)).Value; // nearest; on a tie the even code
            if (best == 0) best = v < 0 ? -0.0 : 0.0;
            Assert.That(ours[i], Is.EqualTo((float)best), $"input {inputs[i]:R}");
        }
    }

    [Test]
    public void RejectsIntegerInput()
    {
        using var ints = tensor(new[] { 1, 2 });
        Assert.Throws<TurboException>(() => Fp8E4M3.Round(ints).Dispose());
        Assert.Throws<TurboException>(() => Fp8E4M3.Decode(ints).Dispose());
    }
}
