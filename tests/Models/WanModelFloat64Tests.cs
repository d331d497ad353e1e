using Turbo.Distiller.Training;
using Turbo.Runtime.Models;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Models;

public class WanModelFloat64Tests
{
    /// <summary>A float64 model (for gradient checks) computes the float32 model's function, in float64 throughout.</summary>
    [Test]
    public void AFloat64ModelComputesTheSameFunctionInFloat64()
    {
        var config = new WanConfig { Dim = 32, FfnDim = 64, NumHeads = 2, NumLayers = 2, InDim = 4, OutDim = 4, TextDim = 8, TextLen = 4, FreqDim = 16 };
        using var single = new WanModel(config);
        Initializers.Wan(single, seed: 1);
        using (no_grad())
            foreach (var p in single.parameters()) p.add_(randn(p.shape, generator: new Generator(2)) * 0.05);
        using var precise = new WanModel(config, ScalarType.Float64);
        precise.LoadWeights(single.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter));
        Assert.That(precise.parameters().All(p => p.dtype == ScalarType.Float64), "every parameter float64");
        Assert.That(precise.PreciseDtype, Is.EqualTo(ScalarType.Float64));

        using var scope = NewDisposeScope();
        var g = new Generator(3);
        var x = randn([2, 4, 2, 4, 4], generator: g);
        var context = randn([2, 3, 8], generator: g);
        var t = tensor(new float[] { 250, 900 });
        using var noGrad = no_grad();
        var expected = single.Forward(x, t, context);
        var output = precise.Forward(x.to(ScalarType.Float64), t, context.to(ScalarType.Float64));
        Assert.That(output.dtype, Is.EqualTo(ScalarType.Float64));
        Assert.That(RelativeError.Of(output, expected), Is.LessThan(1e-5));
    }
}
