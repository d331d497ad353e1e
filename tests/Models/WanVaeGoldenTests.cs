using Turbo.Tests.Support;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Tests.Models;

/// <summary>The C# Wan VAE against upstream diffusers' AutoencoderKLWan on the tiny random-weight golden model.</summary>
public class WanVaeGoldenTests
{
    const double Fp32Tolerance = 1e-4;

    internal static string WeightsPath => Golden.Path("wan_vae.diffusers.safetensors");

    /// <summary>The tiny golden VAE, its config read from the JSON the weights file carries in its metadata.</summary>
    internal static WanVae LoadGoldenVae()
    {
        using var weights = SafetensorsFile.Open(WeightsPath);
        var vae = new WanVae(WanVaeConfig.FromJson(weights.Metadata["config"], weights.Path));
        vae.LoadWeights(n => weights.Contains(n) ? weights.Info(n).Shape : null, weights.Read, weights.Path);
        return vae;
    }

    [Test]
    public void ConfigComesFromTheWeightsMetadata()
    {
        using var weights = SafetensorsFile.Open(WeightsPath);
        var config = WanVaeConfig.FromJson(weights.Metadata["config"], weights.Path);
        Assert.That(config.BaseDim, Is.EqualTo(8));
        Assert.That(config.ZDim, Is.EqualTo(4));
        Assert.That(config.DimMult, Is.EqualTo(new[] { 1, 2, 2, 2 }));
        Assert.That(config.NumResBlocks, Is.EqualTo(1));
        Assert.That(config.TemperalDownsample, Is.EqualTo(new[] { false, true, true }));
        Assert.That(config.LatentsMean, Is.EqualTo(new double[] { 0, 0, 0, 0 }));
        Assert.That(config.LatentsStd, Is.EqualTo(new double[] { 1, 1, 1, 1 }));
        Assert.That(config.SpatialCompression, Is.EqualTo(8));
        Assert.That(config.TemporalCompression, Is.EqualTo(4));
    }

    [Test]
    public void ParametersCarryTheDiffusersNamesAndShapes()
    {
        using var vae = LoadGoldenVae();
        using var weights = SafetensorsFile.Open(WeightsPath);
        var ours = vae.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        var golden = weights.Tensors.ToDictionary(t => t.Name, t => t.Shape);
        Assert.That(ours.Keys, Is.EquivalentTo(golden.Keys));
        foreach (var (name, shape) in golden) Assert.That(ours[name], Is.EqualTo(shape), name);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void EncodeMatchesUpstreamPosterior(bool wholeClip)
    {
        using var vae = LoadGoldenVae();
        using var io = SafetensorsFile.Open(Golden.Path("wan_vae.io.safetensors"));
        using var video = io.Read("video");
        using var expectedMean = io.Read("latent_mean");
        using var expectedLogVar = io.Read("latent_logvar");
        var (mean, logVar) = vae.Encode(video, wholeClip);
        using (mean)
        using (logVar)
        {
            double meanError = RelativeError.Of(mean, expectedMean);
            double logVarError = RelativeError.Of(logVar, expectedLogVar);
            TestContext.Out.WriteLine($"latent_mean: rel err {meanError:E2}; latent_logvar: rel err {logVarError:E2}");
            Assert.That(meanError, Is.LessThanOrEqualTo(Fp32Tolerance), "latent_mean");
            Assert.That(logVarError, Is.LessThanOrEqualTo(Fp32Tolerance), "latent_logvar");
        }
    }

    [TestCase(false)]
    [TestCase(true)]
    public void DecodeMatchesUpstreamVideo(bool wholeClip)
    {
        using var vae = LoadGoldenVae();
        using var io = SafetensorsFile.Open(Golden.Path("wan_vae.io.safetensors"));
        using var latent = io.Read("latent_mean");
        using var expected = io.Read("decoded");
        using var decoded = vae.Decode(latent, wholeClip);
        double error = RelativeError.Of(decoded, expected);
        TestContext.Out.WriteLine($"decoded: rel err {error:E2}");
        Assert.That(error, Is.LessThanOrEqualTo(Fp32Tolerance));
    }

    [TestCase(1, 1)]
    [TestCase(9, 3)]
    public void FramesMapOneToOneThenFourToOne(int frames, int latentFrames)
    {
        using var vae = LoadGoldenVae();
        using var video = rand([1, 3, frames, 16, 24], generator: manual_seed(3)) * 2 - 1;
        var (mean, logVar) = vae.Encode(video);
        using (mean)
        using (logVar)
        {
            Assert.That(mean.shape, Is.EqualTo(new long[] { 1, 4, latentFrames, 2, 3 }));
            Assert.That(logVar.shape, Is.EqualTo(mean.shape));
            using var decoded = vae.Decode(mean);
            Assert.That(decoded.shape, Is.EqualTo(video.shape));
        }
    }

    [Test]
    public void SecondSampleOfABatchEqualsItsSingleCall()
    {
        using var vae = LoadGoldenVae();
        using var videos = rand([2, 3, 5, 16, 16], generator: manual_seed(5)) * 2 - 1;
        using var single = videos.narrow(0, 1, 1);
        var (mean, logVar) = vae.Encode(videos);
        var (singleMean, singleLogVar) = vae.Encode(single);
        using (mean)
        using (logVar)
        using (singleMean)
        using (singleLogVar)
        {
            using var decoded = vae.Decode(mean);
            using var singleDecoded = vae.Decode(singleMean);
            using var batchMean = mean.narrow(0, 1, 1);
            using var batchLogVar = logVar.narrow(0, 1, 1);
            using var batchDecoded = decoded.narrow(0, 1, 1);
            Assert.That(RelativeError.Of(batchMean, singleMean), Is.LessThanOrEqualTo(1e-5), "mean");
            Assert.That(RelativeError.Of(batchLogVar, singleLogVar), Is.LessThanOrEqualTo(1e-5), "logvar");
            Assert.That(RelativeError.Of(batchDecoded, singleDecoded), Is.LessThanOrEqualTo(1e-5), "decoded");
        }
    }

    [Test]
    public void DecodedVideoIsClampedToUnitRange()
    {
        // The decoder normalises its input, so only its last layer can push values out of range: shift two channels.
        using var vae = LoadGoldenVaeWith("decoder.conv_out.bias", tensor(new float[] { 5, -5, 0 }));
        using var io = SafetensorsFile.Open(Golden.Path("wan_vae.io.safetensors"));
        using var latent = io.Read("latent_mean");
        using var decoded = vae.Decode(latent);
        using var red = decoded.select(1, 0);
        using var green = decoded.select(1, 1);
        using var blue = decoded.select(1, 2);
        Assert.That(red.min().item<float>(), Is.EqualTo(1f));
        Assert.That(green.max().item<float>(), Is.EqualTo(-1f));
        Assert.That(blue.abs().max().item<float>(), Is.LessThan(1f), "an unshifted channel is left alone");
    }

    [Test]
    public void LogVarianceIsClampedLikeUpstreamPosterior()
    {
        // quant_conv's output channels 4..7 are the log-variance: push them far out of range both ways.
        using var vae = LoadGoldenVaeWith("quant_conv.bias", tensor(new float[] { 0, 0, 0, 0, 1000, 1000, -1000, -1000 }));
        using var io = SafetensorsFile.Open(Golden.Path("wan_vae.io.safetensors"));
        using var video = io.Read("video");
        var (mean, logVar) = vae.Encode(video);
        using (mean)
        using (logVar)
        {
            using var high = logVar.narrow(1, 0, 2);
            using var low = logVar.narrow(1, 2, 2);
            Assert.That(high.min().item<float>(), Is.EqualTo(20f));
            Assert.That(high.max().item<float>(), Is.EqualTo(20f));
            Assert.That(low.min().item<float>(), Is.EqualTo(-30f));
            Assert.That(low.max().item<float>(), Is.EqualTo(-30f));
        }
    }

    /// <summary>The golden VAE with one tensor replaced (takes ownership of <paramref name="replacement"/>).</summary>
    static WanVae LoadGoldenVaeWith(string name, Tensor replacement)
    {
        using var weights = SafetensorsFile.Open(WeightsPath);
        var tensors = weights.Tensors.ToDictionary(t => t.Name, t => t.Name == name ? replacement : weights.Read(t.Name));
        try
        {
            var vae = new WanVae(WanVaeConfig.FromJson(weights.Metadata["config"], weights.Path));
            vae.LoadWeights(tensors, weights.Path);
            return vae;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }
}

/// <summary>One pass over a whole clip gives upstream's chunk-by-chunk numbers, on clips longer than the golden one.</summary>
public class WanVaeWholeClipTests
{
    [Test]
    public void WholeClipEqualsChunkByChunkOnALongClip()
    {
        var config = new WanVaeConfig { BaseDim = 8, ZDim = 4, DimMult = [1, 2, 2], NumResBlocks = 1, TemperalDownsample = [true, true] };
        using var vae = new WanVae(config);
        using (no_grad())
            foreach (var p in vae.parameters()) p.copy_(randn(p.shape, generator: new Generator(5)) * 0.2);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var video = rand([2, 3, 17, 16, 16], generator: new Generator(6)) * 2 - 1;
        var (mean, logVar) = vae.Encode(video);
        var (wholeMean, wholeLogVar) = vae.Encode(video, wholeClip: true);
        Assert.That(mean.shape, Is.EqualTo(new long[] { 2, 4, 5, 4, 4 }));
        Assert.That(RelativeError.Of(wholeMean, mean), Is.LessThan(1e-5), "mean");
        Assert.That(RelativeError.Of(wholeLogVar, logVar), Is.LessThan(1e-5), "log-variance");
        var decoded = vae.Decode(mean);
        Assert.That(decoded.shape, Is.EqualTo(new long[] { 2, 3, 17, 16, 16 }));
        Assert.That(RelativeError.Of(vae.Decode(mean, wholeClip: true), decoded), Is.LessThan(1e-5), "decoded");
    }
}

public class WanVaeClampTests
{
    [Test]
    public void DecodeClampsUnlessTrainingAsksItNotTo()
    {
        using var vae = WanVaeGoldenTests.LoadGoldenVae();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (name, p) in vae.named_parameters())
            if (name == "decoder.conv_out.bias") p.add_(tensor(new[] { 2f, -2f, 0f })); // push red above and green below the range
        var latent = randn([1, 4, 2, 4, 4], generator: new Generator(8));
        var clamped = vae.Decode(latent);
        var raw = vae.Decode(latent, clamp: false);
        Assert.That(raw.abs().max().item<float>(), Is.GreaterThan(1f), "the raw decode leaves [-1, 1]");
        Assert.That(clamped.abs().max().item<float>(), Is.LessThanOrEqualTo(1f));
        Assert.That(raw.clamp(-1.0, 1.0).eq(clamped).all().item<bool>(), "clamping the raw decode gives the clamped one");
    }
}
