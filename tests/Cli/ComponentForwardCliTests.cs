using Turbo.Runtime.IO;
using Turbo.Tests.Support;

namespace Turbo.Tests.Cli;

/// <summary>`turbo-convert forward` on a VAE folder and a text-encoder folder (config.json beside the weights) against the golden tensors.</summary>
public class ComponentForwardCliTests : TempFolderFixture
{
    /// <summary>A component folder as diffusers/transformers lay it out: config.json (here from the golden file's metadata) and the weights.</summary>
    string Folder(string name, string goldenWeights, string weightsFile)
    {
        string folder = Temp.PathTo(name);
        Directory.CreateDirectory(folder);
        using (var weights = SafetensorsFile.Open(Golden.Path(goldenWeights)))
            File.WriteAllText(Path.Combine(folder, "config.json"), weights.Metadata["config"]);
        File.Copy(Golden.Path(goldenWeights), Path.Combine(folder, weightsFile));
        return folder;
    }

    [Test]
    public void VaeEncodesAndDecodesLikeUpstream()
    {
        string folder = Folder("vae", "wan_vae.diffusers.safetensors", "diffusion_pytorch_model.safetensors");
        string output = Temp.PathTo("vae-out.safetensors");
        var result = CliRunner.Run("forward", folder, "--inputs", Golden.Path("wan_vae.io.safetensors"), "-o", output);
        Assert.That(result.ExitCode, Is.EqualTo(0), result.Err);
        using var ours = SafetensorsFile.Open(output);
        using var golden = SafetensorsFile.Open(Golden.Path("wan_vae.io.safetensors"));
        foreach (string name in new[] { "latent_mean", "latent_logvar", "decoded" })
        {
            using var a = ours.Read(name);
            using var b = golden.Read(name);
            Assert.That(RelativeError.Of(a, b), Is.LessThan(1e-4), name);
        }
    }

    [Test]
    public void TextEncoderGivesUpstreamsHiddenStates()
    {
        string folder = Folder("text_encoder", "umt5.transformers.safetensors", "model.safetensors");
        string output = Temp.PathTo("umt5-out.safetensors");
        var result = CliRunner.Run("forward", folder, "--inputs", Golden.Path("umt5.io.safetensors"), "-o", output);
        Assert.That(result.ExitCode, Is.EqualTo(0), result.Err);
        using var ours = SafetensorsFile.Open(output);
        using var golden = SafetensorsFile.Open(Golden.Path("umt5.io.safetensors"));
        using var a = ours.Read("last_hidden_state");
        using var b = golden.Read("last_hidden_state");
        Assert.That(RelativeError.Of(a, b), Is.LessThan(1e-4));
    }

    [Test]
    public void AVaeWithoutItsInputsSaysWhatItReads()
    {
        string folder = Folder("vae2", "wan_vae.diffusers.safetensors", "diffusion_pytorch_model.safetensors");
        var result = CliRunner.Run("forward", folder, "--inputs", Golden.Path("umt5.io.safetensors"), "-o", Temp.PathTo("x.safetensors"));
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Err, Does.Contain("'video'").And.Contain("'latent_mean'"));
        Assert.That(File.Exists(Temp.PathTo("x.safetensors")), Is.False);
    }
}
