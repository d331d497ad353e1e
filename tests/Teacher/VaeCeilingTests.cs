using System.Text.Json;
using Turbo.CalibrationData.Teacher;
using Turbo.Converter.Cli;
using Turbo.Tests.Cli;
using Turbo.Tests.Support;

namespace Turbo.Tests.Teacher;

/// <summary>`teacher-vae-ceiling`: real clips through a model's VAE, scored by the oracle.</summary>
public class VaeCeilingTests
{
    [Test]
    public void RealClipsThroughAVaeAreScoredBesideTheRealOnes()
    {
        using var folder = new TempFolder();
        string model = Path.Combine(folder.Path, "model"), output = Path.Combine(folder.Path, "ceiling", "vae-ceiling.json");
        foreach (var t in MicroTeacher.Write(model).Values) t.Dispose();
        var (code, stdout, err) = CliRunner.RunShapes("teacher-vae-ceiling", "--model", model, "--prompts", "3", "--batch", "2",
            "-o", output, "--device", "cpu");
        Assert.That(code, Is.EqualTo(0), err);
        Assert.That(stdout, Does.Contain("3 prompts through the VAE"));
        var ceiling = JsonSerializer.Deserialize<VaeCeiling>(File.ReadAllText(output))!;
        Assert.That(ceiling.Prompts, Is.EqualTo(3));
        // The micro teacher's VAE is untrained: its reconstructions lose what real clips keep.
        Assert.That(ceiling.Psnr, Is.GreaterThan(0).And.LessThan(30));
        Assert.That(ceiling.Scores.RealAdherence, Is.GreaterThan(0.9));
        Assert.That(ceiling.Scores.Frechet, Is.GreaterThan(ceiling.Scores.RealFrechet));
        Assert.That(ceiling.Scores.PerFactor.Keys, Is.EquivalentTo(new[] { "shape", "colour", "size", "background", "motion", "speed" }));
    }

    [Test]
    public void BadCountsAreOneLineUserErrors()
    {
        var (code, _, err) = CliRunner.RunShapes("teacher-vae-ceiling", "--prompts", "0", "--device", "cpu");
        Assert.That(code, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(err, Does.Contain("--prompts 0"));
        (code, _, err) = CliRunner.RunShapes("teacher-vae-ceiling", "--batch", "0", "--device", "cpu");
        Assert.That(code, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(err, Does.Contain("--batch"));
    }
}
