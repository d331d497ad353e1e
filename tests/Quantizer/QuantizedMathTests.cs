using Turbo.Tests.Support;
using Turbo.Runtime;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Tests.Quantizer;

/// <summary>
/// The reference path against a straightforward scalar computation of the same quantized math in C#: integer
/// dot products in long, the float32 epilogue in the documented order. Everything must agree bit for bit.
/// </summary>
public class QuantizedMathTests
{
    static float[,] Random2D(int rows, int cols, int seed, double scale = 1)
    {
        var random = new Random(seed);
        var a = new float[rows, cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                a[i, j] = (float)(scale * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        return a;
    }

    static Tensor ToTensor(float[,] a) => tensor(a.Cast<float>().ToArray(), [a.GetLength(0), a.GetLength(1)]);

    static float[] Row(Tensor t, int i)
    {
        using var row = t.select(0, i).to(ScalarType.Float32);
        return row.data<float>().ToArray();
    }

    /// <summary>
    /// Per-token quantization, scalar: scale = absmax/127 in float32, q = round-half-even(x·(1/scale)) clamped, the
    /// product with the float32 reciprocal.
    /// </summary>
    static (sbyte[] Q, float Scale) QuantizeRow(float[] x, float maxCode)
    {
        float absMax = x.Max(MathF.Abs);
        float scale = absMax > 0 ? absMax / maxCode : 1f, inverse = 1f / scale;
        return (x.Select(v => (sbyte)Math.Clamp(MathF.Round(v * inverse, MidpointRounding.ToEven), -127, 127)).ToArray(), scale);
    }

    [Test]
    public void PerTokenActivationQuantizationRoundsHalfToEven()
    {
        using var x = tensor(new float[] { 127, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 126.5f, -127 }, [1, 8]);
        using var q = ActivationQuantizer.PerToken(x, QuantFormat.Int8PerChannel);
        Assert.That(q.Scale.item<float>(), Is.EqualTo(1f));
        Assert.That(q.Values.data<sbyte>().ToArray(), Is.EqualTo(new sbyte[] { 127, 0, 2, 2, 0, -2, 126, -127 }));
    }

    [Test]
    public void CodesAreTheValuesTimesTheReciprocalOfTheScale()
    {
        // Rows [absmax, v] whose v lies so close to a half that dividing by the row's scale would round it the other way.
        (uint Absmax, uint Value)[] rows = [(0x3fa7a061, 0xbf66fb3b), (0x3f2e5bf6, 0x3d7c9d6c), (0x3fcac441, 0xbfad3ad1)];
        foreach (var (absmaxBits, valueBits) in rows)
        {
            float absmax = BitConverter.UInt32BitsToSingle(absmaxBits), v = BitConverter.UInt32BitsToSingle(valueBits);
            float scale = absmax / 127f, expected = MathF.Round(v * (1f / scale), MidpointRounding.ToEven);
            Assert.That(MathF.Round(v / scale, MidpointRounding.ToEven), Is.Not.EqualTo(expected), "the case tells the two apart");
            using var x = tensor(new[] { absmax, v }, [1, 2]);
            using var q = ActivationQuantizer.PerToken(x, QuantFormat.Int8PerChannel);
            Assert.That(q.Scale.item<float>(), Is.EqualTo(scale));
            Assert.That(q.Values.data<sbyte>().ToArray(), Is.EqualTo(new[] { (sbyte)127, (sbyte)expected }));
        }
    }

    [Test]
    public void ScalesAreTrueQuotientsNotReciprocalProducts()
    {
        // Absolute maxima whose float32 quotient by 127 differs from the product with float32(1/127): the CUDA kernels
        // divide, so the reference must too (libtorch on CUDA would multiply by the reciprocal for a scalar divisor).
        var random = new Random(11);
        var absMax = Enumerable.Range(0, 100_000).Select(_ => (float)(random.NextDouble() * 40))
            .Where(a => a / 127f != a * (1f / 127f)).Take(64).ToArray();
        Assert.That(absMax, Has.Length.EqualTo(64));
        using var maxima = tensor(absMax);
        using var scales = QuantFormat.Int8PerChannel.ScalesFromAbsMax(maxima);
        Assert.That(scales.data<float>().ToArray(), Is.EqualTo(absMax.Select(a => a / 127f).ToArray()));
        using var rows = tensor(absMax.SelectMany(a => new[] { a / 2, -a }).ToArray(), [absMax.Length, 2]);
        using var q = ActivationQuantizer.PerToken(rows, QuantFormat.Int8PerChannel);
        Assert.That(q.Scale.data<float>().ToArray(), Is.EqualTo(absMax.Select(a => a / 127f).ToArray()));
    }

    [Test]
    public void ZeroRowsGetScaleOne()
    {
        using var x = zeros(3, 5);
        using var q = ActivationQuantizer.PerToken(x, QuantFormat.Int8PerChannel);
        Assert.That(q.Scale.data<float>().ToArray(), Is.EqualTo(new[] { 1f, 1f, 1f }));
        using var w = zeros(2, 5);
        using var qw = WeightQuantizer.Quantize(w, QuantFormat.Int8PerChannel);
        Assert.That(qw.Scale.data<float>().ToArray(), Is.EqualTo(new[] { 1f, 1f }));
        Assert.That(qw.Values.data<sbyte>().ToArray().All(v => v == 0), Is.True);
    }

    [Test]
    public void PerChannelWeightScalesAndValuesMatchScalarMath()
    {
        var w = Random2D(9, 70, seed: 1, scale: 0.05);
        using var weight = ToTensor(w);
        using var q = WeightQuantizer.Quantize(weight, QuantFormat.Int8PerChannel);
        Assert.That(q.Scale.shape, Is.EqualTo(new long[] { 9 }));
        for (int n = 0; n < 9; n++)
        {
            var (expected, scale) = QuantizeRow(Enumerable.Range(0, 70).Select(k => w[n, k]).ToArray(), 127f);
            Assert.That(q.Scale[n].item<float>(), Is.EqualTo(scale), $"scale of channel {n}");
            Assert.That(Row(q.Values, n).Select(v => (sbyte)v), Is.EqualTo(expected), $"values of channel {n}");
            Assert.That(expected.Max(v => Math.Abs((int)v)), Is.EqualTo(127), "the absmax element maps to ±127");
        }
    }

    [Test]
    public void BlockScalesCoverEach128By128Block()
    {
        var w = Random2D(200, 300, seed: 2, scale: 0.05);
        w[150, 260] = 3f; // one large value: only its block's scale may grow
        using var weight = ToTensor(w);
        using var q = WeightQuantizer.Quantize(weight, QuantFormat.Int8Block128);
        Assert.That(q.Scale.shape, Is.EqualTo(new long[] { 2, 3 }));
        for (int nb = 0; nb < 2; nb++)
            for (int kb = 0; kb < 3; kb++)
            {
                float absMax = 0;
                for (int n = nb * 128; n < Math.Min(200, nb * 128 + 128); n++)
                    for (int k = kb * 128; k < Math.Min(300, kb * 128 + 128); k++)
                        absMax = Math.Max(absMax, Math.Abs(w[n, k]));
                Assert.That(q.Scale[nb, kb].item<float>(), Is.EqualTo(absMax / 127f), $"block ({nb}, {kb})");
            }
        using var perElement = q.ScalePerElement();
        using var values = q.Values.to(ScalarType.Float32);
        for (int n = 0; n < 200; n += 37)
        {
            var scales = Row(perElement, n);
            var ours = Row(values, n);
            for (int k = 0; k < 300; k++)
                Assert.That(ours[k], Is.EqualTo(Math.Clamp(MathF.Round(w[n, k] / scales[k], MidpointRounding.ToEven), -127, 127)), $"[{n}, {k}]");
        }
        using var dequantized = q.Dequantize();
        using var error = (dequantized - weight).abs().max();
        Assert.That(error.item<float>(), Is.LessThanOrEqualTo(3f / 127 / 2 * 1.0001f), "within half a step of the largest block");
    }

    [TestCase(QuantFormat.Int8PerChannel)]
    [TestCase(QuantFormat.Int8Block128)]
    [TestCase(QuantFormat.Fp8E4M3PerChannel)]
    public void ReferenceProductEqualsScalarComputationBitForBit(QuantFormat format)
    {
        const int m = 6, k = 300, n = 5;
        var x = Random2D(m, k, seed: 3, scale: 2);
        x[2, 17] = 40f; // an outlier token
        using var input = ToTensor(x);
        using var weight = ToTensor(Random2D(n, k, seed: 4, scale: 0.05));
        using var bias = tensor(Enumerable.Range(0, n).Select(i => 0.01f * i - 0.02f).ToArray());
        using var q = WeightQuantizer.Quantize(weight, format);
        using var output = QuantizedLinear.Product(input, q, bias, ScalarType.Float32);

        double maxCode = format.MaxCode();
        using var wValues = q.ValuesAs(ScalarType.Float64);
        using var blockScale = q.Scale.to(ScalarType.Float32);
        for (int row = 0; row < m; row++)
        {
            // activations: per-token scale, then int8 rounding or e4m3 rounding (checked against its own tests)
            var xr = Enumerable.Range(0, k).Select(j => x[row, j]).ToArray();
            float absMax = xr.Max(MathF.Abs), sx = absMax / (float)maxCode;
            double[] xq;
            if (format.IsInt8()) xq = xr.Select(v => (double)Math.Clamp(MathF.Round(v / sx, MidpointRounding.ToEven), -127, 127)).ToArray();
            else
            {
                using var scaled = tensor(xr.Select(v => v / sx).ToArray());
                using var rounded = Turbo.Runtime.Quant.Fp8E4M3.Round(scaled);
                xq = rounded.data<float>().ToArray().Select(v => (double)v).ToArray();
            }
            var ours = Row(output, row);
            for (int col = 0; col < n; col++)
            {
                var wr = wValues.select(0, col).data<double>().ToArray();
                float y;
                if (format == QuantFormat.Int8Block128)
                {
                    y = 0f;
                    for (int b = 0; b * 128 < k; b++)
                    {
                        long acc = 0; // what an INT32 accumulator holds for this 128-wide slice
                        for (int j = b * 128; j < Math.Min(k, b * 128 + 128); j++) acc += (long)xq[j] * (long)wr[j];
                        y += (float)acc * sx * blockScale[col / 128, b].item<float>();
                    }
                }
                else
                {
                    double acc = 0; // integers (INT8) or multiples of 2^-18 (e4m3): exact in double
                    for (int j = 0; j < k; j++) acc += xq[j] * wr[j];
                    y = (float)acc * sx * q.Scale[col].item<float>();
                }
                y += bias[col].item<float>();
                Assert.That(ours[col], Is.EqualTo(y), $"{format.Id()} y[{row}, {col}]");
            }
        }

        using var exact = input.matmul(weight.t()) + bias;
        using var relative = (output - exact).norm() / exact.norm();
        Assert.That(relative.item<float>(), Is.LessThan(format.IsInt8() ? 0.03 : 0.08), "close to the float product (one row has a 20x outlier)");
    }

    [Test]
    public void IntegerAccumulationEqualsAnInt64Matmul()
    {
        using var x = ToTensor(Random2D(16, 1000, seed: 5));
        using var w = ToTensor(Random2D(12, 1000, seed: 6));
        using var qx = ActivationQuantizer.PerToken(x, QuantFormat.Int8PerChannel);
        using var qw = WeightQuantizer.Quantize(w, QuantFormat.Int8PerChannel);
        using var integer = qx.Values.to(ScalarType.Int64).matmul(qw.Values.to(ScalarType.Int64).t()); // CPU-only exact reference
        // Undo the epilogue with unit scales: the product of the quantized values themselves.
        using var ones = QuantizedWeight.Create(QuantFormat.Int8PerChannel, qw.Values.clone(), ones_like(qw.Scale), null, "unit scales");
        using var unitActivations = new QuantizedActivation(QuantFormat.Int8PerChannel, qx.Values.clone(), ones_like(qx.Scale));
        using var accumulated = ReferenceGemm.Compute(unitActivations, ones, null, ScalarType.Float64);
        Assert.That(accumulated.to(ScalarType.Int64).data<long>().ToArray(), Is.EqualTo(integer.data<long>().ToArray()));
    }

    [Test]
    public void IntegerAccumulationStaysExactPastFloat32sWidth()
    {
        // K = 2,500 of codes near ±127: sums reach 4·10⁷, past float32's 2²⁴, so one float32 matmul over all of K would
        // round; the slices of at most 1,024 must not. Expected: the int64 sum, then float32 as the epilogue takes it.
        const int m = 3, n = 5, k = 2500;
        var random = new Random(11);
        sbyte[] Codes(int count) => Enumerable.Range(0, count).Select(_ => (sbyte)(random.Next(10) == 0 ? random.Next(-127, 128) : 127)).ToArray();
        using var xCodes = tensor(Codes(m * k), [m, k]);
        using var wCodes = tensor(Codes(n * k), [n, k]);
        using var weight = QuantizedWeight.Create(QuantFormat.Int8PerChannel, wCodes.clone(), ones(n), null, "unit scales");
        using var activations = new QuantizedActivation(QuantFormat.Int8PerChannel, xCodes.clone(), ones(m));
        using var output = ReferenceGemm.Compute(activations, weight, null, ScalarType.Float64);
        using var integer = xCodes.to(ScalarType.Int64).matmul(wCodes.to(ScalarType.Int64).t());
        Assert.That(integer.max().item<long>(), Is.GreaterThan(1L << 24), "the case reaches past float32's integers");
        Assert.That(output.data<double>().ToArray(), Is.EqualTo(integer.data<long>().Select(v => (double)(float)v).ToArray()));
    }

    [Test]
    public void SmoothingIsFoldedIntoTheWeightAndDividedOutOfTheInput()
    {
        using var w = ToTensor(Random2D(4, 32, seed: 8, scale: 0.05));
        using var s = linspace(0.5, 4, 32);
        using var smoothed = WeightQuantizer.Quantize(w, QuantFormat.Int8PerChannel, s);
        using var folded = WeightQuantizer.Quantize(w * s, QuantFormat.Int8PerChannel);
        Assert.That(smoothed.Values.data<sbyte>().ToArray(), Is.EqualTo(folded.Values.data<sbyte>().ToArray()));
        Assert.That(smoothed.Scale.data<float>().ToArray(), Is.EqualTo(folded.Scale.data<float>().ToArray()));
        using var x = ToTensor(Random2D(3, 32, seed: 9));
        using var viaSmoothing = QuantizedLinear.Product(x, smoothed, null, ScalarType.Float32);
        using var byHand = QuantizedLinear.Product(x / s, folded, null, ScalarType.Float32);
        Assert.That(viaSmoothing.data<float>().ToArray(), Is.EqualTo(byHand.data<float>().ToArray()));
        using var dequantized = smoothed.Dequantize();
        using var close = (dequantized - w).abs().max();
        Assert.That(close.item<float>(), Is.LessThan(0.01));
    }

    [Test]
    public void BadInputsAreUserErrors()
    {
        using var nan = tensor(new[] { 1f, float.NaN }, [1, 2]);
        Assert.That(() => WeightQuantizer.Quantize(nan, QuantFormat.Int8PerChannel, name: "blocks.0.ffn.0.weight"),
            Throws.TypeOf<TurboException>().With.Message.Contains("blocks.0.ffn.0.weight").And.Message.Contains("NaN"));
        using var vector = ones(4);
        Assert.Throws<TurboException>(() => WeightQuantizer.Quantize(vector, QuantFormat.Int8PerChannel));
        using var w = ones(2, 4);
        using var zeroFactor = tensor(new[] { 1f, 0f, 1f, 1f });
        Assert.Throws<TurboException>(() => WeightQuantizer.Quantize(w, QuantFormat.Int8PerChannel, zeroFactor));
        using var wide = ones(1, QuantFormats.MaxInFeatures + 1);
        Assert.That(() => WeightQuantizer.Quantize(wide, QuantFormat.Int8PerChannel), Throws.TypeOf<TurboException>().With.Message.Contains("input features"));

        using var q = WeightQuantizer.Quantize(w, QuantFormat.Int8PerChannel);
        using var kernel = new QuantizedLinear(WeightQuantizer.Quantize(w, QuantFormat.Int8PerChannel));
        using var wrongWidth = ones(3, 5);
        using var bias = zeros(2);
        Assert.That(() => kernel.Forward(wrongWidth, bias), Throws.TypeOf<TurboException>().With.Message.Contains("[..., 4]"));
        using var integers = ones(new long[] { 3, 4 }, dtype: ScalarType.Int32);
        Assert.Throws<TurboException>(() => kernel.Forward(integers, bias));
        using var wrongScale = ones(3);
        Assert.Throws<TurboException>(() => QuantizedWeight.Create(QuantFormat.Int8PerChannel, q.Values.clone(), wrongScale.clone(), null, "layer"));
        using var block = ones(2);
        Assert.That(() => QuantizedWeight.Create(QuantFormat.Int8Block128, q.Values.clone(), block.clone(), null, "layer"),
            Throws.TypeOf<TurboException>().With.Message.Contains("[1, 1]"));
    }
}
