using Turbo.Tests.Support;
using Turbo.Quantizer.Selection;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using Turbo.Runtime.Quant;
using Turbo.Tests.Models;
using static TorchSharp.torch;

namespace Turbo.Tests.Quantizer;

/// <summary>The golden tiny Wan DiT with its block Linear layers swapped for quantized ones.</summary>
public class QuantizedWanModelTests
{
    static Tensor GoldenForward(WanModel model)
    {
        using var io = SafetensorsFile.Open(Golden.Path("wan_dit.io.safetensors"));
        using var x = io.Read("x");
        using var t = io.Read("timestep");
        using var context = io.Read("context");
        using var noGrad = no_grad();
        return model.Forward(x, t, context);
    }

    static void QuantizeBlocks(WanModel model, QuantFormat format)
    {
        var selection = new LayerSelection();
        foreach (var (name, linear) in WanLinears.Of(model).Where(l => selection.Selects(l.Name)))
            linear.UseKernel(new QuantizedLinear(WeightQuantizer.Quantize(linear.Weight!, format, name: name)));
    }

    static double Cosine(Tensor a, Tensor b) => Turbo.Quantizer.Reports.ErrorMetrics.Cosine(a, b);

    [TestCase(QuantFormat.Int8PerChannel, 0.995)]
    [TestCase(QuantFormat.Int8Block128, 0.995)]
    [TestCase(QuantFormat.Fp8E4M3PerChannel, 0.99)]
    public void QuantizedGoldenModelStaysCloseToFloat32(QuantFormat format, double minimumCosine)
    {
        using var reference = GoldenWan.LoadModel();
        using var expected = GoldenForward(reference);
        using var model = GoldenWan.LoadModel();
        QuantizeBlocks(model, format);
        using var output = GoldenForward(model);
        double cosine = Cosine(expected, output);
        double relative = Turbo.Quantizer.Reports.ErrorMetrics.RelativeError(expected, output);
        TestContext.Out.WriteLine($"{format.Id()} W8A8 vs fp32 on the golden input: cosine {cosine:F6}, relative error {relative:E3}");
        Assert.That(cosine, Is.GreaterThanOrEqualTo(minimumCosine));
        Assert.That(cosine, Is.LessThan(1.0), "the quantized path must actually run");
    }

    [Test]
    public void QuantizedLayersRunInABFloat16Model()
    {
        using var reference = GoldenWan.LoadModel();
        using var expected = GoldenForward(reference);
        using var model = GoldenWan.LoadModel(ScalarType.BFloat16);
        QuantizeBlocks(model, QuantFormat.Int8PerChannel);
        using var output = GoldenForward(model);
        Assert.That(output.dtype, Is.EqualTo(ScalarType.Float32));
        double cosine = Cosine(expected, output);
        TestContext.Out.WriteLine($"int8-channel W8A8 in a bf16 model vs fp32: cosine {cosine:F7}, relative error {Turbo.Quantizer.Reports.ErrorMetrics.RelativeError(expected, output):E3}");
        Assert.That(cosine, Is.GreaterThanOrEqualTo(0.99));
    }

    [Test]
    public void KernelReplacesTheWeightParameter()
    {
        using var model = GoldenWan.LoadModel();
        var linear = WanLinears.Find(model, "blocks.0.ffn.0");
        using var input = randn(2, 3, linear.InFeatures);
        using var noGrad = no_grad();
        var weight = WeightQuantizer.Quantize(linear.Weight!, QuantFormat.Int8PerChannel);
        using var expected = QuantizedLinear.Product(input.reshape(-1, linear.InFeatures), weight, linear.Bias, ScalarType.Float32);
        linear.UseKernel(new QuantizedLinear(weight));

        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        Assert.That(names, Does.Not.Contain("blocks.0.ffn.0.weight"));
        Assert.That(names, Does.Contain("blocks.0.ffn.0.bias"));
        Assert.That(names, Does.Contain("blocks.0.ffn.2.weight"));
        Assert.That(linear.Weight, Is.Null);
        using var output = linear.call(input);
        Assert.That(output.shape, Is.EqualTo(new long[] { 2, 3, linear.OutFeatures }));
        Assert.That(output.reshape(-1, linear.OutFeatures).data<float>().ToArray(), Is.EqualTo(expected.data<float>().ToArray()));

        using var wrong = new QuantizedLinear(WeightQuantizer.Quantize(ones(3, 3), QuantFormat.Int8PerChannel));
        Assert.Throws<TurboException>(() => linear.UseKernel(wrong));
    }

    [Test]
    public void ObserverSeesEveryInput()
    {
        using var model = GoldenWan.LoadModel();
        var seen = new List<long[]>();
        WanLinears.Find(model, "blocks.1.cross_attn.k").InputObserver = t => seen.Add(t.shape);
        GoldenForward(model).Dispose();
        Assert.That(seen, Has.Count.EqualTo(1));
        Assert.That(seen[0], Is.EqualTo(new long[] { 1, 9, 64 }), "the embedded text context");
    }

    [Test]
    public void LinearNamesAreTheCanonicalOnesOnce()
    {
        using var model = GoldenWan.LoadModel();
        var names = WanLinears.Of(model).Select(l => l.Name).ToList();
        Assert.That(names, Is.Unique);
        Assert.That(names, Has.Count.EqualTo(26)); // 10 per block, text 2, time 2, projection 1, head 1
        Assert.That(names, Does.Contain("blocks.1.self_attn.o").And.Contain("head.head").And.Contain("time_projection.1"));
        Assert.That(new LayerSelection().Apply(names), Has.Count.EqualTo(20));
    }
}
