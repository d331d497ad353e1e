using Turbo.Runtime.Native;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Tests.Models;

/// <summary>Bad inputs and bad weights give a TurboException naming what is wrong, never a libtorch abort.</summary>
public class WanModelInputTests
{
    static readonly WanConfig Tiny = new()
    {
        Dim = 24, FfnDim = 32, NumHeads = 2, NumLayers = 1, InDim = 4, OutDim = 4, TextDim = 8, FreqDim = 16, TextLen = 6,
    };

    [TestCase(new long[] { 1, 4, 2, 4 }, "5 dims")]
    [TestCase(new long[] { 1, 3, 2, 4, 4 }, "4 channels")]
    [TestCase(new long[] { 1, 4, 2, 5, 4 }, "height 5")]
    [TestCase(new long[] { 1, 4, 2, 4, 3 }, "width 3")]
    [TestCase(new long[] { 0, 4, 2, 4, 4 }, "batch")]
    public void WrongLatentShapeIsRejected(long[] shape, string expectedText)
    {
        using var model = new WanModel(Tiny);
        using var x = zeros(shape);
        using var t = zeros(Math.Max(shape[0], 1));
        using var context = zeros(new long[] { Math.Max(shape[0], 1), 3, 8 });
        var error = Assert.Throws<TurboException>(() => model.Forward(x, t, context).Dispose());
        Assert.That(error!.Message, Does.Contain("input x").And.Contain(expectedText));
    }

    [Test]
    public void WrongTimestepOrContextIsRejected()
    {
        using var model = new WanModel(Tiny);
        using var x = zeros(new long[] { 2, 4, 1, 4, 4 });
        using var goodT = zeros(2);
        using var goodContext = zeros(2, 3, 8);
        using var shortT = zeros(1);
        using var scalarT = tensor(500f);
        using var wrongWidth = zeros(2, 3, 9);
        using var wrongBatch = zeros(1, 3, 8);
        using var noRows = zeros(2, 0, 8);
        using var intContext = zeros(new long[] { 2, 3, 8 }, dtype: ScalarType.Int32);

        Assert.That(Assert.Throws<TurboException>(() => model.Forward(x, shortT, goodContext))!.Message, Does.StartWith("timestep"));
        Assert.That(Assert.Throws<TurboException>(() => model.Forward(x, scalarT, goodContext))!.Message, Does.StartWith("timestep"));
        foreach (var bad in new[] { wrongWidth, wrongBatch, noRows, intContext })
            Assert.That(Assert.Throws<TurboException>(() => model.Forward(x, goodT, bad))!.Message, Does.StartWith("context"));
        using var fine = model.Forward(x, goodT, goodContext);
        Assert.That(fine.shape, Is.EqualTo(new long[] { 2, 4, 1, 4, 4 }));
    }

    [Test]
    public void InconsistentConfigIsRejected()
    {
        Assert.Throws<TurboException>(() => new WanModel(Tiny with { NumHeads = 5 }));
        Assert.Throws<TurboException>(() => new WanModel(Tiny with { Dim = 18, NumHeads = 6 })); // head dim 3
        Assert.Throws<TurboException>(() => new WanModel(Tiny, ScalarType.Int8));
    }

    [Test]
    public void WeightWithWrongShapeIsNamedBeforeAnythingIsCopied()
    {
        using var model = new WanModel(Tiny);
        var weights = model.named_parameters().ToDictionary(p => p.name, p => ones_like(p.parameter));
        weights["blocks.0.self_attn.q.weight"] = ones(24, 12);
        var error = Assert.Throws<TurboException>(() => model.LoadWeights(weights, "ckpt.safetensors"));
        Assert.That(error!.Message, Is.EqualTo(
            "ckpt.safetensors: tensor blocks.0.self_attn.q.weight: expected shape [24, 24], found [24, 12]"));
        var untouched = model.get_parameter("head.head.weight")!;
        Assert.That(untouched.abs().sum().item<float>(), Is.Zero, "nothing may be copied when a check fails");
        foreach (var t in weights.Values) t.Dispose();
    }

    [Test]
    public void MissingUnexpectedAndNonFloatWeightsAreRejected()
    {
        using var model = new WanModel(Tiny);
        var weights = model.named_parameters().ToDictionary(p => p.name, p => ones_like(p.parameter));

        var missing = new Dictionary<string, Tensor>(weights);
        missing.Remove("head.modulation");
        Assert.That(Assert.Throws<TurboException>(() => model.LoadWeights(missing))!.Message,
            Is.EqualTo("weights: tensor head.modulation is missing"));

        var extra = new Dictionary<string, Tensor>(weights) { ["blocks.0.cross_attn.k_img.weight"] = ones(24, 24) };
        Assert.That(Assert.Throws<TurboException>(() => model.LoadWeights(extra))!.Message,
            Does.Contain("blocks.0.cross_attn.k_img.weight is not a parameter"));

        var integers = new Dictionary<string, Tensor>(weights) { ["blocks.0.modulation"] = ones(new long[] { 1, 6, 24 }, ScalarType.Int8) };
        Assert.That(Assert.Throws<TurboException>(() => model.LoadWeights(integers))!.Message,
            Does.Contain("blocks.0.modulation: expected a floating-point dtype"));

        Assert.That(Assert.Throws<TurboException>(() => model.LoadWeights(_ => null, _ => throw new AssertionException("read"), "f"))!
            .Message, Does.StartWith("f: tensor ").And.Contain("more problems"));

        model.LoadWeights(weights);
        var loaded = model.get_parameter("blocks.0.ffn.2.weight")!;
        Assert.That(loaded.sum().item<float>(), Is.EqualTo(24 * 32));
        foreach (var t in weights.Values) t.Dispose();
        extra["blocks.0.cross_attn.k_img.weight"].Dispose();
        integers["blocks.0.modulation"].Dispose();
    }

    [Test]
    public void Bf16WeightsAreConvertedWhenLoaded()
    {
        using var model = new WanModel(Tiny, ScalarType.BFloat16);
        var weights = model.named_parameters().ToDictionary(p => p.name, p => full(p.parameter.shape, 0.5f));
        model.LoadWeights(weights);
        var q = model.get_parameter("blocks.0.self_attn.q.weight")!;
        var modulation = model.get_parameter("blocks.0.modulation")!;
        Assert.That(q.dtype, Is.EqualTo(ScalarType.BFloat16));
        Assert.That(modulation.dtype, Is.EqualTo(ScalarType.Float32), "modulation stays float32");
        Assert.That(q.to(ScalarType.Float32).mean().item<float>(), Is.EqualTo(0.5f));
        foreach (var t in weights.Values) t.Dispose();
    }

    [Test]
    public void RopeSplitFollowsUpstreamForAnyHeadDim()
    {
        Assert.That(WanRope.PairsPerAxis(128), Is.EqualTo((22, 21, 21)));
        Assert.That(WanRope.PairsPerAxis(32), Is.EqualTo((6, 5, 5)));
        Assert.That(WanRope.PairsPerAxis(64), Is.EqualTo((12, 10, 10)));
    }

    [Test]
    public void RopeRotatesPairsByPositionTimesFrequency()
    {
        // head_dim 6: one pair per axis, each with frequency θ^0 = 1, so the angle is just the grid index. The q/k
        // RMSNorm (fused with the rotation) scales x = (1,0,1,0,0,1) by 1/rms = √2 first.
        var (cos, sin) = WanRope.Tables(2, 3, 4, 6, CPU);
        using (cos) using (sin)
        {
            int token = 1 * 12 + 2 * 4 + 3; // f = 1, h = 2, w = 3
            using var x = tensor(new float[] { 1, 0, 1, 0, 0, 1 }).view(1, 1, 6).expand(1, 24, 6);
            using var weight = ones(6);
            using var rotated = FusedOps.RmsNormRopeReference(x, weight, cos, sin, headDim: 6, eps: 0);
            var got = rotated[0, token].data<float>().ToArray();
            double[] expected = [Math.Cos(1), Math.Sin(1), Math.Cos(2), Math.Sin(2), -Math.Sin(3), Math.Cos(3)];
            Assert.That(got, Is.EqualTo(expected.Select(v => (float)(v * Math.Sqrt(2)))).Within(1e-6));
        }
    }

    [Test]
    public void RmsNormWithoutTablesIsTheNormModule()
    {
        // Cross-attention's q/k norm runs through the same fused op with no RoPE tables; it must equal the RmsNorm module.
        using var x = randn(2, 5, 48);
        using var norm = new RmsNorm(48, 1e-6, CPU);
        using (no_grad()) norm.Weight.copy_(randn(48));
        using var expected = norm.call(x);
        using var fused = FusedOps.RmsNormRopeReference(x, norm.Weight, null, null, headDim: 6, eps: 1e-6);
        Assert.That(fused.allclose(expected, rtol: 1e-6, atol: 1e-6), Is.True);
        using var table = ones(5, 3);
        Assert.Throws<TurboException>(() => FusedOps.RmsNormRopeReference(x, norm.Weight, table, null, headDim: 6, eps: 1e-6));
    }

    [Test]
    public void NormedInputWithoutTheKernelIsTheNormThenEachLayer()
    {
        // Off the GPU no norm quantizes: a NormedInput is the modulated norm's tensor, and Project is the layer's call.
        using var scope = NewDisposeScope();
        var x = randn(2, 5, 16);
        var (shift, scale) = (randn(2, 16), randn(2, 16));
        var layers = new[] { new WanLinear(16, 8, ScalarType.Float32, CPU), new WanLinear(16, 4, ScalarType.Float32, CPU) };
        using (no_grad())
            foreach (var layer in layers) { layer.Weight!.normal_(); layer.Bias.normal_(); }
        var input = NormedInput.Of(x, null, null, shift, scale, 1e-6, ScalarType.Float32, layers);
        Assert.That(input.IsQuantized, Is.False);
        Assert.That(input.Shape, Is.EqualTo(new long[] { 2, 5, 16 }));
        var normed = FusedOps.LayerNormModulate(x, null, null, shift, scale, 1e-6, ScalarType.Float32);
        foreach (var layer in layers)
            Assert.That(input.Project(layer).allclose(layer.call(normed), rtol: 0, atol: 0), Is.True);
        Assert.That(input.QuantizedFor(layers[0]), Is.Null, "a float layer takes no quantized input");
        foreach (var layer in layers) layer.Dispose();
    }

    [TestCase(true)]
    [TestCase(false)]
    public void NormedInputAfterAResidualUpdateIsTheUpdateThenTheNorm(bool gated)
    {
        // Off the GPU the update and the norm run one after the other: x' = x + y·gate (or x + y) and the norm of x'.
        using var scope = NewDisposeScope();
        var (x, y) = (randn(2, 5, 16), randn(2, 5, 16).to(ScalarType.BFloat16));
        var gate = gated ? randn(2, 16) : null;
        var (weight, bias) = (randn(16) * 0.1 + 1, randn(16) * 0.1);
        var layer = new WanLinear(16, 8, ScalarType.Float32, CPU);
        var (residual, input) = NormedInput.AfterResidual(x, y, gate, weight, bias, null, null, 1e-6, ScalarType.Float32, layer);
        var expected = gated ? x + y.to(ScalarType.Float32) * gate!.unsqueeze(1) : x + y.to(ScalarType.Float32);
        Assert.That(residual.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(residual.allclose(expected, rtol: 0, atol: 0), Is.True);
        var normed = FusedOps.LayerNormModulate(expected, weight, bias, null, null, 1e-6, ScalarType.Float32);
        Assert.That(input.Project(layer).allclose(layer.call(normed), rtol: 0, atol: 0), Is.True);
        Assert.That(FusedOps.ResidualFusionPays(1536) && FusedOps.ResidualFusionPays(5120), Is.True, "the norm's vector paths, a warp or a block per row");
        Assert.That(FusedOps.QuantizeFusionPays(1536), Is.True, "Wan2.1-1.3B's width: the norm's warp path");
        Assert.That(FusedOps.QuantizeFusionPays(5120), Is.False, "14B's width: a block per row, where quantizing in the norm measured no faster");
        layer.Dispose();
    }

    [Test]
    public void PadContextAppendsZeroRows()
    {
        using var context = ones(2, 3, 8);
        using var padded = WanModel.PadContext(context, 6);
        Assert.That(padded.shape, Is.EqualTo(new long[] { 2, 6, 8 }));
        Assert.That(padded.sum().item<float>(), Is.EqualTo(2 * 3 * 8));
        using var tooLong = ones(1, 7, 8);
        Assert.Throws<TurboException>(() => WanModel.PadContext(tooLong, 6));
    }
}
