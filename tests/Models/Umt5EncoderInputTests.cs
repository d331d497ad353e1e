using Turbo.Tests.Support;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using Turbo.Tests.IO;
using static TorchSharp.torch;

namespace Turbo.Tests.Models;

/// <summary>Bad inputs and bad weights give a TurboException naming what is wrong, never a libtorch abort.</summary>
public class Umt5EncoderInputTests
{
    static readonly Umt5Config Tiny = new()
    {
        VocabSize = 20, DModel = 8, DKv = 2, DFf = 16, NumLayers = 1, NumHeads = 4,
        RelativeAttentionNumBuckets = 8, RelativeAttentionMaxDistance = 16,
    };

    [TestCase(-1L, "found [-1, 3]")]
    [TestCase(20L, "found [1, 20]")]
    public void TokenIdsOutsideTheVocabularyAreRejected(long badId, string expectedText)
    {
        using var model = new Umt5Encoder(Tiny);
        using var ids = tensor(new long[,] { { 1, 3, badId } });
        var error = Assert.Throws<TurboException>(() => model.Forward(ids).Dispose());
        Assert.That(error!.Message, Does.StartWith("input_ids: token ids must lie in [0, 20)").And.Contain(expectedText));
    }

    [Test]
    public void IdsMustBeAnIntegerMatrix()
    {
        using var model = new Umt5Encoder(Tiny);
        using var floats = tensor(new float[,] { { 1, 2 } });
        using var vector = tensor(new long[] { 1, 2 });
        using var empty = zeros([1, 0], dtype: ScalarType.Int64);
        Assert.That(Assert.Throws<TurboException>(() => model.Forward(floats))!.Message, Does.Contain("integer tensor"));
        Assert.That(Assert.Throws<TurboException>(() => model.Forward(vector))!.Message, Does.Contain("[B ≥ 1, L ≥ 1]"));
        Assert.That(Assert.Throws<TurboException>(() => model.Forward(empty))!.Message, Does.Contain("[B ≥ 1, L ≥ 1]"));
    }

    [Test]
    public void MaskMustMatchTheIdsAndHoldOnlyZerosAndOnes()
    {
        using var model = new Umt5Encoder(Tiny);
        using var ids = tensor(new long[,] { { 1, 2, 3 } });
        using var shortMask = tensor(new long[,] { { 1, 1 } });
        using var twos = tensor(new long[,] { { 1, 2, 0 } });
        using var half = tensor(new float[,] { { 1, 0.5f, 0 } });
        Assert.That(Assert.Throws<TurboException>(() => model.Forward(ids, shortMask))!.Message,
            Does.StartWith("attention_mask: expected shape [1, 3]"));
        foreach (var bad in new[] { twos, half })
            Assert.That(Assert.Throws<TurboException>(() => model.Forward(ids, bad))!.Message,
                Does.StartWith("attention_mask: expected only 0"));
    }

    [Test]
    public void IntegerBoolAndFloatMasksAgreeAndInt32IdsWork()
    {
        using var model = RandomModel();
        using var noGrad = no_grad();
        using var ids = tensor(new long[,] { { 4, 9, 1, 0 } });
        using var ids32 = ids.to(ScalarType.Int32);
        using var mask = tensor(new long[,] { { 1, 1, 1, 0 } });
        using var boolMask = mask.to(ScalarType.Bool);
        using var floatMask = mask.to(ScalarType.Float32);
        using var reference = model.Forward(ids, mask);
        foreach (var (i, m) in new[] { (ids32, mask), (ids, boolMask), (ids, floatMask) })
        {
            using var other = model.Forward(i, m);
            Assert.That(other.allclose(reference, rtol: 0, atol: 0), Is.True);
        }
    }

    [Test]
    public void AFullyMaskedRowStaysFinite()
    {
        // Upstream adds float32's lowest value rather than −∞, so a row with no real token attends uniformly instead of
        // producing NaN.
        using var model = RandomModel();
        using var noGrad = no_grad();
        using var ids = tensor(new long[,] { { 4, 9, 1 } });
        using var mask = zeros([1, 3], dtype: ScalarType.Int64);
        using var output = model.Forward(ids, mask);
        Assert.That(output.isfinite().all().item<bool>(), Is.True);
    }

    [Test]
    public void OnlyFloat32AndBFloat16ComputeDtypes()
    {
        Assert.Throws<TurboException>(() => new Umt5Encoder(Tiny, ScalarType.Float16));
        Assert.Throws<TurboException>(() => new Umt5Encoder(Tiny with { NumHeads = 0 }));
    }

    [Test]
    public void WeightWithWrongShapeIsNamedBeforeAnythingIsCopied()
    {
        using var model = new Umt5Encoder(Tiny);
        var weights = model.named_parameters().ToDictionary(p => p.name, p => ones_like(p.parameter));
        weights["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"] = ones(32, 4);
        var error = Assert.Throws<TurboException>(() => model.LoadWeights(weights, "t5.safetensors"));
        Assert.That(error!.Message, Is.EqualTo(
            "t5.safetensors: tensor encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight: expected shape [8, 4], found [32, 4]"));
        using var untouched = model.get_parameter("shared.weight")!.abs().sum();
        Assert.That(untouched.item<float>(), Is.Zero, "nothing may be copied when a check fails");
        foreach (var t in weights.Values) t.Dispose();
    }

    [Test]
    public void MissingAndUnknownWeightsAreNamed()
    {
        using var model = new Umt5Encoder(Tiny);
        var weights = model.named_parameters().ToDictionary(p => p.name, p => ones_like(p.parameter));
        weights.Remove("encoder.final_layer_norm.weight", out var removed);
        Assert.That(Assert.Throws<TurboException>(() => model.LoadWeights(weights, "w"))!.Message,
            Does.StartWith("w: tensor encoder.final_layer_norm.weight is missing"));
        weights["encoder.final_layer_norm.weight"] = removed!;
        weights["encoder.block.0.layer.1.DenseReluDense.wi.weight"] = ones(16, 8);
        Assert.That(Assert.Throws<TurboException>(() => model.LoadWeights(weights, "w"))!.Message,
            Does.StartWith("w: tensor encoder.block.0.layer.1.DenseReluDense.wi.weight is not a parameter"));
        foreach (var t in weights.Values) t.Dispose();
    }

    [Test]
    public void CheckpointWithoutAConfigIsRejected()
    {
        using var folder = new TempFolder();
        string path = folder.PathTo("model.safetensors");
        using (var weight = ones(4, 4)) SafetensorsWriter.Save(path, new Dictionary<string, Tensor> { ["shared.weight"] = weight });
        var error = Assert.Throws<TurboException>(() => Umt5Encoder.FromCheckpoint(path).Dispose());
        Assert.That(error!.Message, Does.Contain("no UMT5 config"));
    }

    static Umt5Encoder RandomModel()
    {
        var model = new Umt5Encoder(Tiny);
        var generator = manual_seed(11);
        var weights = model.named_parameters().ToDictionary(p => p.name, p => randn(p.parameter.shape, generator: generator));
        model.LoadWeights(weights);
        foreach (var t in weights.Values) t.Dispose();
        return model;
    }
}
