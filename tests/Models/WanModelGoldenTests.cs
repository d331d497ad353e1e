using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Models;

/// <summary>The C# Wan DiT against upstream's outputs on the tiny random-weight golden model.</summary>
public class WanModelGoldenTests
{
    const double Fp32Tolerance = 1e-4;

    [Test]
    public void ParametersCarryTheOriginalNamesAndShapes()
    {
        using var model = new WanModel(GoldenWan.Config());
        using var weights = Golden.Open(Golden.OriginalWeights);
        var ours = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        var golden = weights.Tensors.ToDictionary(t => t.Name, t => t.Shape);
        Assert.That(ours.Keys, Is.EquivalentTo(golden.Keys));
        foreach (var (name, shape) in golden) Assert.That(ours[name], Is.EqualTo(shape), name);
    }

    [Test]
    public void Fp32ForwardAndIntermediatesMatchUpstream()
    {
        using var model = GoldenWan.LoadModel();
        var errors = GoldenWan.ForwardErrors(model);
        foreach (var (name, error) in errors) TestContext.Out.WriteLine($"{name}: rel err {error:E2}");
        Assert.That(errors.Keys, Has.Count.EqualTo(7));
        foreach (var (name, error) in errors) Assert.That(error, Is.LessThanOrEqualTo(Fp32Tolerance), name);
    }

    [Test]
    public void Bf16ForwardStaysWithinBf16ToleranceOfFp32()
    {
        using var fp32 = GoldenWan.LoadModel();
        using var bf16 = GoldenWan.LoadModel(ScalarType.BFloat16);
        using var reference = GoldenWan.Forward(fp32);
        using var lowPrecision = GoldenWan.Forward(bf16);
        double error = RelativeError.Of(lowPrecision, reference);
        TestContext.Out.WriteLine($"bf16 vs fp32: rel err {error:E2}");
        Assert.That(lowPrecision.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(error, Is.LessThanOrEqualTo(3e-2));
        Assert.That(error, Is.GreaterThan(0), "the bf16 model must really compute in bf16");
    }

    [Test]
    public void BatchOfTwoWithDifferentTimestepsEqualsTwoSingleCalls()
    {
        using var model = GoldenWan.LoadModel();
        using var noGrad = no_grad();
        var generator = manual_seed(7);
        using var x = randn([2, 16, 2, 4, 4], generator: generator);
        using var context = randn([2, 5, 48], generator: generator);
        using var t = tensor(new float[] { 900, 120 });
        using var batched = model.Forward(x, t, context);
        for (int i = 0; i < 2; i++)
        {
            using var single = model.Forward(x[i..(i + 1)], t[i..(i + 1)], context[i..(i + 1)]);
            using var part = batched[i..(i + 1)];
            Assert.That(RelativeError.Of(part, single), Is.LessThanOrEqualTo(1e-5), $"sample {i}");
        }
        using var first = batched[0];
        using var second = batched[1];
        Assert.That(RelativeError.Of(first, second), Is.GreaterThan(1e-2), "samples must differ");
    }
}
