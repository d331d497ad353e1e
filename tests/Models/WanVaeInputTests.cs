using Turbo.Tests.Support;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Tests.Models;

/// <summary>Bad inputs, weights and configs reach the Wan VAE as one-line TurboExceptions, never as libtorch aborts.</summary>
public class WanVaeInputTests
{
    static WanVae vae = null!;

    [OneTimeSetUp]
    public void Load() => vae = WanVaeGoldenTests.LoadGoldenVae();

    [OneTimeTearDown]
    public void Release() => vae.Dispose();

    [TestCase(new long[] { 3, 5, 32, 32 }, "5 dims")]
    [TestCase(new long[] { 1, 4, 5, 32, 32 }, "[B ≥ 1, 3, F, H, W]")]
    [TestCase(new long[] { 0, 3, 5, 32, 32 }, "[B ≥ 1, 3, F, H, W]")]
    [TestCase(new long[] { 1, 3, 4, 32, 32 }, "4 frames")]
    [TestCase(new long[] { 1, 3, 0, 32, 32 }, "0 frames")]
    [TestCase(new long[] { 1, 3, 5, 30, 32 }, "multiples of 8")]
    [TestCase(new long[] { 1, 3, 5, 32, 4 }, "multiples of 8")]
    public void EncodeRejectsABadVideoShape(long[] shape, string expected)
    {
        using var video = zeros(shape);
        var error = Assert.Throws<TurboException>(() => vae.Encode(video));
        Assert.That(error!.Message, Does.StartWith("video: ").And.Contain(expected));
    }

    [Test]
    public void EncodeRejectsAnIntegerVideo()
    {
        using var video = zeros([1, 3, 5, 32, 32], dtype: ScalarType.Int32);
        var error = Assert.Throws<TurboException>(() => vae.Encode(video));
        Assert.That(error!.Message, Does.Contain("floating-point"));
    }

    [TestCase(new long[] { 4, 2, 4, 4 })]
    [TestCase(new long[] { 1, 16, 2, 4, 4 })]
    [TestCase(new long[] { 1, 4, 0, 4, 4 })]
    public void DecodeRejectsABadLatentShape(long[] shape)
    {
        using var latent = zeros(shape);
        var error = Assert.Throws<TurboException>(() => vae.Decode(latent));
        Assert.That(error!.Message, Does.StartWith("latent: expected shape [B, 4, F, h, w]"));
    }

    [Test]
    public void LoadWeightsRejectsAWrongShapeBeforeCopyingAnything()
    {
        using var weights = SafetensorsFile.Open(WanVaeGoldenTests.WeightsPath);
        var tensors = weights.Tensors.ToDictionary(t => t.Name, t => weights.Read(t.Name));
        try
        {
            tensors["decoder.conv_in.weight"].Dispose();
            tensors["decoder.conv_in.weight"] = zeros([16, 4, 3, 3, 1]);
            using var fresh = new WanVae(WanVaeConfig.FromJson(weights.Metadata["config"], weights.Path));
            var error = Assert.Throws<TurboException>(() => fresh.LoadWeights(tensors, "vae.safetensors"));
            Assert.That(error!.Message, Is.EqualTo(
                "vae.safetensors: tensor decoder.conv_in.weight: expected shape [16, 4, 3, 3, 3], found [16, 4, 3, 3, 1]"));
            var untouched = fresh.named_parameters().Single(p => p.name == "encoder.conv_in.weight").parameter;
            Assert.That(untouched.abs().max().item<float>(), Is.EqualTo(0f), "nothing was copied");
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    [Test]
    public void LoadWeightsNamesAMissingTensor()
    {
        using var weights = SafetensorsFile.Open(WanVaeGoldenTests.WeightsPath);
        using var fresh = new WanVae(WanVaeConfig.FromJson(weights.Metadata["config"], weights.Path));
        var error = Assert.Throws<TurboException>(() => fresh.LoadWeights(
            n => n == "quant_conv.bias" ? null : weights.Info(n).Shape, weights.Read, weights.Path));
        Assert.That(error!.Message, Does.Contain("tensor quant_conv.bias is missing"));
    }

    [TestCase("{\"is_residual\": true}", "is_residual")]
    [TestCase("{\"patch_size\": 2}", "patch_size")]
    [TestCase("{\"attn_scales\": [0.5]}", "attn_scales")]
    [TestCase("{\"_class_name\": \"AutoencoderKL\"}", "AutoencoderKLWan")]
    [TestCase("{\"z_dim\": \"16\"}", "field z_dim: expected an integer")]
    [TestCase("{\"dim_mult\": [1, 2.5]}", "field dim_mult: expected a list of integers")]
    [TestCase("{\"temperal_downsample\": [0, 1, 1]}", "field temperal_downsample: expected a list of true/false")]
    [TestCase("[1, 2]", "expected a JSON object")]
    [TestCase("{", "not valid JSON")]
    public void ConfigRejectsWhatItCannotBuild(string json, string expected)
    {
        var error = Assert.Throws<TurboException>(() => WanVaeConfig.FromJson(json, "vae/config.json"));
        Assert.That(error!.Message, Does.StartWith("vae/config.json: ").And.Contain(expected));
    }

    [Test]
    public void ConfigDefaultsAreWan21AndFieldsOverrideThem()
    {
        var config = WanVaeConfig.FromJson(
            "{\"_class_name\": \"AutoencoderKLWan\", \"base_dim\": 96, \"z_dim\": 16, \"dropout\": 0.0, \"patch_size\": null}", "config.json");
        Assert.That(config.DimMult, Is.EqualTo(new[] { 1, 2, 4, 4 }));
        Assert.That(config.NumResBlocks, Is.EqualTo(2));
        Assert.That(config.ResolvedLatentsMean, Is.EqualTo(WanVaeConfig.Wan21LatentsMean));
        Assert.That(config.ResolvedLatentsStd, Is.EqualTo(WanVaeConfig.Wan21LatentsStd));
        Assert.That(WanVaeConfig.FromJson("{\"num_res_blocks\": 3}", "c").NumResBlocks, Is.EqualTo(3));
    }

    [TestCase("{\"temperal_downsample\": [true, true]}", "temperal_downsample has 2 entries, expected 3")]
    [TestCase("{\"dim_mult\": [1, 2, 2, 2, 2], \"temperal_downsample\": [true, true, true, false]}", "at most 2 temporal downsamplings")]
    [TestCase("{\"z_dim\": 4, \"latents_mean\": [0, 0, 0]}", "latents_mean has 3 values, expected z_dim = 4")]
    [TestCase("{\"num_res_blocks\": 0}", "num_res_blocks 0")]
    public void ModelRejectsAnInconsistentConfig(string json, string expected)
    {
        var config = WanVaeConfig.FromJson(json, "config.json");
        var error = Assert.Throws<TurboException>(() => new WanVae(config).Dispose());
        Assert.That(error!.Message, Does.Contain(expected));
    }
}
