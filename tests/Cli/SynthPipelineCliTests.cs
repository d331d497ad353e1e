using Turbo.Converter.Cli;
using Turbo.Runtime.Packaging;
using Turbo.Tests.Support;

namespace Turbo.Tests.Cli;

public class SynthPipelineCliTests : TempFolderFixture
{
    [Test]
    public void SynthPipelineWritesADiffusersFolderThatRunPackages()
    {
        string folder = Temp.PathTo("tiny-t2v");
        var synth = CliRunner.Run("synth", "--preset", "tiny", "--dtype", "bf16", "--pipeline", "-o", folder);
        Assert.That(synth.ExitCode, Is.EqualTo(0), synth.Err);
        Assert.That(synth.Out, Does.Contain("wrote 237 tensors").And.Contain("model_index.json").And.Contain("vae"));
        Assert.That(File.ReadAllText(Path.Combine(folder, "transformer", "config.json")), Does.Contain("\"attention_head_dim\": 32"),
            "diffusers naming without --naming");

        string package = Temp.PathTo("tiny.turbo");
        var run = CliRunner.Run("run", folder, "-o", package, "--skip-distill", "--skip-sparsify", "--skip-quantize", "--skip-validate", "--device", "cpu");
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var manifest = PackageFolder.Open(package);
        Assert.That(manifest.Stages.Select(s => s.Name), Is.EqualTo(new[] { "package" }));
        Assert.That(manifest.Sampler.Steps, Is.EqualTo(50));
        Assert.That(manifest.Video, Is.EqualTo(new VideoSettings(9, 64, 64)));
    }

    [TestCase("original")]
    [TestCase("comfyui")]
    public void PipelineRefusesANamingOtherThanDiffusers(string naming)
    {
        string folder = Temp.PathTo("tiny-t2v");
        var r = CliRunner.Run("synth", "--preset", "tiny", "--pipeline", "--naming", naming, "-o", folder);
        Assert.That(r.ExitCode, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(r.Err, Does.StartWith("error: --naming " + naming + ": --pipeline writes a diffusers-layout folder"));
        Assert.That(Directory.EnumerateFileSystemEntries(Temp.Path), Is.Empty);
    }

    [Test]
    public void PipelineRefusesANonEmptyFolderAndLeavesItAlone()
    {
        File.WriteAllText(Temp.PathTo("keep.txt"), "x");
        var r = CliRunner.Run("synth", "--preset", "tiny", "--pipeline", "-o", Temp.Path);
        Assert.That(r.ExitCode, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(r.Err, Does.Contain("not empty"));
        Assert.That(Directory.EnumerateFileSystemEntries(Temp.Path).Select(Path.GetFileName), Is.EqualTo(new[] { "keep.txt" }));
    }
}
