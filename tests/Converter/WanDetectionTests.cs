using Turbo.Converter.Checkpoints;
using Turbo.Converter.Families.Wan;
using Turbo.Converter.Synth;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Converter;

public class WanDetectionTests : TempFolderFixture
{
    string ConfigPath => Temp.PathTo("config-under-test.json");

    static string GoldenConfigJson() => File.ReadAllText(Golden.Path(Golden.OriginalConfig));

    /// <summary>The error opening a copy of the golden original weights changed by <paramref name="edit"/>, with the golden config.</summary>
    string OpenEditedWeightsError(Action<Dictionary<string, Tensor>> edit)
    {
        string path = Temp.PathTo("wan.safetensors");
        GoldenCopies.WriteEdited(path, edit);
        return Assert.Throws<TurboException>(() => AdaptedCheckpoints.Open(path, Golden.Path(Golden.OriginalConfig)))!.Message;
    }

    /// <summary>The error opening the golden original weights with <paramref name="json"/> as their config (at <see cref="ConfigPath"/>).</summary>
    string OpenWithConfigError(string json)
    {
        File.WriteAllText(ConfigPath, json);
        return Assert.Throws<TurboException>(() => AdaptedCheckpoints.Open(Golden.Path(Golden.OriginalWeights), ConfigPath))!.Message;
    }

    static void AssertGoldenTinyConfig(WanConfig c)
    {
        Assert.That((c.Dim, c.NumHeads, c.HeadDim, c.FfnDim, c.NumLayers), Is.EqualTo((64, 2, 32, 128, 2)));
        Assert.That((c.InDim, c.OutDim, c.TextDim, c.FreqDim, c.TextLen), Is.EqualTo((16, 16, 48, 256, 512)));
        Assert.That(c.PatchSize, Is.EqualTo(new[] { 1, 2, 2 }));
        Assert.That((c.QkNorm, c.CrossAttnNorm, c.Eps), Is.EqualTo((true, true, 1e-6)));
    }

    [Test]
    public void OriginalNamingWithItsConfigBeside()
    {
        string weights = GoldenCopies.WithConfigBeside(Temp.Path, Golden.OriginalWeights, Golden.OriginalConfig);
        using var wan = AdaptedCheckpoints.OpenWan(weights, configPath: null);
        Assert.That(wan.NamingKind, Is.EqualTo(WanNaming.Original));
        Assert.That(wan.ConfigOrigin, Does.Contain("config.json").And.Contain("original Wan format"));
        AssertGoldenTinyConfig(wan.Config); // text_dim 48 comes from text_embedding.0.weight: the original format lacks it
        Assert.That(wan.Tensors, Has.Count.EqualTo(69));
    }

    [Test]
    public void DiffusersNamingWithItsConfigBesideReadsThroughCanonicalNames()
    {
        GoldenCopies.WithConfigBeside(Temp.Path, Golden.DiffusersWeights, Golden.DiffusersConfig);
        using var wan = AdaptedCheckpoints.OpenWan(Temp.Path, configPath: null);
        Assert.That(wan.NamingKind, Is.EqualTo(WanNaming.Diffusers));
        Assert.That(wan.ConfigOrigin, Does.Contain("diffusers format"));
        AssertGoldenTinyConfig(wan.Config);

        // The same weights under the two namings: canonical reads of the diffusers file equal the original file.
        using var original = Golden.Open(Golden.OriginalWeights);
        foreach (string name in new[] { "blocks.1.norm3.weight", "head.modulation", "blocks.0.modulation", "blocks.0.cross_attn.o.weight", "time_projection.1.bias" })
        {
            using var viaAdapter = wan.Read(name);
            using var direct = original.Read(name);
            Assert.That(viaAdapter.shape, Is.EqualTo(direct.shape), name);
            Assert.That(viaAdapter.equal(direct).all().item<bool>(), Is.True, name);
        }
    }

    [Test]
    public void DiffusersRepositoryRootIsFollowedIntoTransformer()
    {
        GoldenCopies.WithConfigBeside(Temp.PathTo("transformer"), Golden.DiffusersWeights, Golden.DiffusersConfig);
        File.WriteAllText(Temp.PathTo("model_index.json"), "{\"_class_name\": \"WanPipeline\"}");
        using var wan = AdaptedCheckpoints.OpenWan(Temp.Path, configPath: null);
        Assert.That(wan.NamingKind, Is.EqualTo(WanNaming.Diffusers));
        Assert.That(wan.Files.Single(), Does.Contain("transformer"));
    }

    [Test]
    public void ComfyUIPrefixIsRecognisedAndAnExplicitConfigIsUsed()
    {
        string path = Temp.PathTo("wan_comfy.safetensors");
        GoldenCopies.WriteComfyUI(path);
        using var wan = AdaptedCheckpoints.OpenWan(path, Golden.Path(Golden.DiffusersConfig));
        Assert.That(wan.NamingKind, Is.EqualTo(WanNaming.ComfyUI));
        Assert.That(wan.ConfigOrigin, Does.StartWith("--config"));
        AssertGoldenTinyConfig(wan.Config);
    }

    [Test]
    public void ShardedCopyOpensFromItsFolderAndFromItsIndex()
    {
        GoldenCopies.WriteShardedWithConfig(Temp.Path, maxShardBytes: 200_000);
        using (var wan = AdaptedCheckpoints.OpenWan(Temp.Path, null))
            Assert.That(wan.Files, Has.Count.GreaterThan(1));
        using (var wan = AdaptedCheckpoints.OpenWan(Temp.PathTo("diffusion_pytorch_model.safetensors.index.json"), null))
            Assert.That(wan.Tensors, Has.Count.EqualTo(69));
    }

    [Test]
    public void WithoutAConfigTheShapesGiveIt()
    {
        // head_dim 128 by convention (as in every released Wan2.1): dim 256 → 2 heads.
        var config = new WanConfig { Dim = 256, NumHeads = 2, FfnDim = 96, NumLayers = 3, TextDim = 40, FreqDim = 32, OutDim = 12 };
        string dir = Temp.PathTo("synth");
        CheckpointSynthesizer.Write(new SynthRequest(config, WanNaming.ComfyUI, SafetensorsDType.BF16, 1, 7, dir));
        File.Delete(Path.Combine(dir, "config.json"));
        using var wan = AdaptedCheckpoints.OpenWan(dir, null);
        Assert.That(wan.ConfigOrigin, Does.StartWith("config inferred from tensor shapes"));
        var c = wan.Config;
        Assert.That((c.Dim, c.NumHeads, c.FfnDim, c.NumLayers, c.TextDim, c.FreqDim, c.InDim, c.OutDim),
            Is.EqualTo((256, 2, 96, 3, 40, 32, 16, 12)));
    }

    [Test]
    public void InferenceNeedsAConfigWhenDimIsNotAMultipleOf128()
    {
        var e = Assert.Throws<TurboException>(() => AdaptedCheckpoints.Open(Golden.Path(Golden.OriginalWeights), null));
        Assert.That(e!.Message, Does.Contain("cannot infer num_heads").And.Contain("dim 64").And.Contain("--config"));
    }

    [Test]
    public void WrongShapeNamesFileTensorExpectedAndFound()
    {
        string path = Temp.PathTo("wan.safetensors");
        GoldenCopies.WriteEdited(path, t => t["blocks.1.ffn.0.weight"] = zeros(96, 64));
        GoldenCopies.CopyConfig(Temp.Path, Golden.OriginalConfig);
        var e = Assert.Throws<TurboException>(() => AdaptedCheckpoints.Open(path, null));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("'blocks.1.ffn.0.weight'")
            .And.Contain("[96, 64]").And.Contain("expected [128, 64]"));
    }

    [Test]
    public void ConfigThatDisagreesWithTheWeightsIsCaughtOnShapes() =>
        Assert.That(OpenWithConfigError(GoldenConfigJson().Replace("\"ffn_dim\": 128", "\"ffn_dim\": 256")),
            Does.Contain("'blocks.0.ffn.0.weight' has shape [128, 64], expected [256, 64]").And.Contain(ConfigPath));

    [Test]
    public void MissingTensorIsNamed() =>
        Assert.That(OpenEditedWeightsError(t => t.Remove("blocks.1.norm3.bias")),
            Does.Contain("'blocks.1.norm3.bias' is missing").And.Contain("[64]"));

    [Test]
    public void UnexpectedTensorIsNamed() =>
        Assert.That(OpenEditedWeightsError(t => t["blocks.0.extra.weight"] = zeros(3)),
            Does.Contain("unexpected").And.Contain("'blocks.0.extra.weight'"));

    [Test]
    public void NonFloatTensorIsRejectedBeforeTorchSeesIt() =>
        Assert.That(OpenEditedWeightsError(t => t["patch_embedding.bias"] = zeros(new long[] { 64 }, ScalarType.Int32)),
            Does.Contain("'patch_embedding.bias' has dtype I32"));

    [Test]
    public void ImageToVideoCheckpointIsNamedAsSuch() =>
        Assert.That(OpenEditedWeightsError(t => t["img_emb.proj.1.weight"] = zeros(8, 8)), Does.Contain("image-to-video"));

    [Test]
    public void ConfigWithIndivisibleHeadsIsRejected() =>
        Assert.That(OpenWithConfigError(GoldenConfigJson().Replace("\"num_heads\": 2", "\"num_heads\": 3")),
            Does.Contain("dim 64 is not divisible by num_heads 3"));

    [Test]
    public void ConfigInNeitherFormatIsRejected() =>
        Assert.That(OpenWithConfigError("{\"hidden_size\": 64}"), Does.Contain(ConfigPath).And.Contain("not a Wan2.1 DiT config"));
}
