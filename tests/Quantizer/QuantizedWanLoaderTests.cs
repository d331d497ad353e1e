using Turbo.Tests.Support;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Runtime.Quant;
using Turbo.Tests.Converter;
using Turbo.Tests.Models;
using static TorchSharp.torch;

namespace Turbo.Tests.Quantizer;

/// <summary>A quantized checkpoint with something wrong in it fails with a message naming the tensor.</summary>
public class QuantizedWanLoaderTests
{
    TempFolder _scratch = null!;

    [SetUp]
    public void CreateScratch() => _scratch = new TempFolder();

    [TearDown]
    public void DeleteScratch() => _scratch.Dispose();

    const string Layer = "blocks.0.ffn.0";

    string Write(Action<Dictionary<string, Tensor>> edit)
    {
        string path = _scratch.PathTo("q.safetensors");
        GoldenCopies.WriteEdited(path, tensors =>
        {
            using var weight = WeightQuantizer.Quantize(tensors[Layer + ".weight"], QuantFormat.Int8PerChannel);
            tensors[Layer + ".weight"] = weight.Values.clone();
            tensors[Layer + ".weight_scale"] = weight.Scale.clone();
            edit(tensors);
        });
        return path;
    }

    static void Load(string path)
    {
        using var file = SafetensorsFile.Open(path);
        using var model = QuantizedWanLoader.Load(GoldenWan.Config(), file.Tensors, file.Read, path);
    }

    [Test]
    public void AValidFileLoads() => Assert.DoesNotThrow(() => Load(Write(_ => { })));

    [Test]
    public void OnTheCpuQuantizedLayersRunTheReference()
    {
        string path = Write(_ => { });
        using var file = SafetensorsFile.Open(path);
        using var model = QuantizedWanLoader.Load(GoldenWan.Config(), file.Tensors, file.Read, path);
        Assert.That(WanLinears.Find(model, Layer).Kernel, Is.TypeOf<QuantizedLinear>());
    }

    [Test]
    public void WrongScaleShape() =>
        Assert.That(() => Load(Write(t => t[Layer + ".weight_scale"] = ones(64))),
            Throws.TypeOf<TurboException>().With.Message.Contains(Layer + ".weight_scale").And.Message.Contains("[128]"));

    [Test]
    public void MissingScale() =>
        Assert.That(() => Load(Write(t => t.Remove(Layer + ".weight_scale"))),
            Throws.TypeOf<TurboException>().With.Message.Contains(Layer + ".weight").And.Message.Contains("missing"));

    [Test]
    public void FloatWeightBesideAScale() =>
        Assert.That(() => Load(Write(t => t[Layer + ".weight"] = zeros(128, 64))),
            Throws.TypeOf<TurboException>().With.Message.Contains("must be I8 or F8_E4M3"));

    [Test]
    public void NonPositiveScale() =>
        Assert.That(() => Load(Write(t => t[Layer + ".weight_scale"] = zeros(128))),
            Throws.TypeOf<TurboException>().With.Message.Contains("positive"));

    [Test]
    public void WrongSmoothingShape() =>
        Assert.That(() => Load(Write(t => t[Layer + ".smooth"] = ones(3))),
            Throws.TypeOf<TurboException>().With.Message.Contains(Layer + ".smooth"));
}
