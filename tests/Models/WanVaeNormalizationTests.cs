using Turbo.Tests.Support;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Tests.Models;

/// <summary>The latent normalisation between the VAE and the diffusion model: Wan2.1's constants, or the config's.</summary>
public class WanVaeNormalizationTests
{
    // A narrow VAE with Wan2.1's z_dim 16, so that Wan2.1's default constants apply; its weights play no part here.
    static readonly WanVaeConfig Narrow16 = new() { BaseDim = 4, DimMult = [1, 1], TemperalDownsample = [false], NumResBlocks = 1 };

    [Test]
    public void NormalizeUsesWan21ConstantsPerChannel()
    {
        using var vae = new WanVae(Narrow16);
        using var mean = ones([1, 16, 2, 3, 3]);
        using var z = vae.Normalize(mean);
        for (int c = 0; c < 16; c++)
        {
            double expected = (1 - WanVaeConfig.Wan21LatentsMean[c]) / WanVaeConfig.Wan21LatentsStd[c];
            using var channel = z.select(1, c);
            Assert.That(channel.min().item<float>(), Is.EqualTo(expected).Within(1e-6), $"channel {c}");
            Assert.That(channel.max().item<float>(), Is.EqualTo(expected).Within(1e-6), $"channel {c}");
        }
    }

    [Test]
    public void DenormalizeInvertsNormalize()
    {
        using var vae = new WanVae(Narrow16);
        using var mean = randn([2, 16, 3, 4, 5], generator: manual_seed(11));
        using var z = vae.Normalize(mean);
        using var back = vae.Denormalize(z);
        Assert.That(RelativeError.Of(back, mean), Is.LessThanOrEqualTo(1e-6));
        Assert.That(RelativeError.Of(z, mean), Is.GreaterThan(0.1), "normalisation changes the latent");
    }

    [Test]
    public void ConstantsFromTheConfigReplaceTheDefaults()
    {
        using var vae = new WanVae(new WanVaeConfig
        {
            BaseDim = 4, ZDim = 2, DimMult = [1, 1], TemperalDownsample = [false], NumResBlocks = 1,
            LatentsMean = [1.0, -2.0], LatentsStd = [2.0, 0.5],
        });
        using var mean = tensor(new float[] { 3, 3 }).view(1, 2, 1, 1, 1);
        using var z = vae.Normalize(mean);
        Assert.That(z.data<float>().ToArray(), Is.EqualTo(new float[] { 1, 10 }));
        using var back = vae.Denormalize(z);
        Assert.That(back.data<float>().ToArray(), Is.EqualTo(new float[] { 3, 3 }));
    }

    [Test]
    public void ANonWanZDimWithoutConstantsIsAClearError()
    {
        using var vae = new WanVae(new WanVaeConfig { BaseDim = 4, ZDim = 2, DimMult = [1, 1], TemperalDownsample = [false], NumResBlocks = 1 });
        using var mean = zeros([1, 2, 1, 1, 1]);
        var error = Assert.Throws<TurboException>(() => vae.Normalize(mean));
        Assert.That(error!.Message, Does.Contain("no latents_mean/latents_std for z_dim 2"));
    }

    [Test]
    public void NormalizeChecksTheChannelCount()
    {
        using var vae = new WanVae(Narrow16);
        using var wrong = zeros([1, 4, 1, 2, 2]);
        var error = Assert.Throws<TurboException>(() => vae.Normalize(wrong));
        Assert.That(error!.Message, Does.StartWith("mean: expected shape [B, 16, F, h, w]"));
    }
}
