using System.Text.Json.Nodes;
using Turbo.Cli;
using Turbo.Tests.Cli;
using Turbo.Tests.Support;
using Turbo.Tests.Video;

namespace Turbo.Tests.Conversion;

/// <summary>`turbo generate` and `turbo bench` run a package.</summary>
public class RuntimeCliPackageTests : TempFolderFixture
{
    static (int Code, string Out, string Err) Turbo(params string[] args)
    {
        var r = CliRunner.RunTurbo(args);
        return (r.ExitCode, r.Out, r.Err);
    }

    string QuantizedPackage()
    {
        string teacher = MicroConversion.Teacher(Temp.Path), package = Temp.PathTo("micro.turbo");
        var r = CliRunner.Run(["run", teacher, "-o", package, "--skip-validate", .. MicroConversion.Quick(Temp.Path)]);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Err);
        return package;
    }

    [Test]
    public void GenerateWritesAClipFromAPackageThroughItsQuantizedLinears()
    {
        string package = QuantizedPackage(), gif = Temp.PathTo("out.gif");
        var r = Turbo("generate", package, "-p", "a small red circle moves left", "-o", gif, "--scale", "1", "--device", "cpu");
        Assert.That(r.Code, Is.EqualTo(0), r.Err);
        Assert.That(r.Out, Does.Contain("int8-channel (reference) × 20").And.Contain("rcm × 2 steps, guidance 1").And.Contain("attention Sla × 2"));
        var decoded = DecodedGif.Read(gif);
        Assert.That((decoded.Frames.Length, decoded.Width, decoded.Height), Is.EqualTo((5, 16, 16)));

        File.AppendAllText(Path.Combine(package, "tokenizer", "vocab.json"), " ");
        var refused = Turbo("generate", package, "-p", "a small red circle", "-o", Temp.PathTo("no.gif"), "--device", "cpu");
        Assert.That(refused.Code, Is.EqualTo(2));
        Assert.That(refused.Err, Does.Contain("vocab.json").And.Contain("SHA-256"));
        Assert.That(File.Exists(Temp.PathTo("no.gif")), Is.False);
    }

    [Test]
    public void BenchTimesThePackageAgainstItsTeachersRecipe()
    {
        string package = QuantizedPackage(), json = Temp.PathTo("bench.json");
        var r = Turbo("bench", package, "--device", "cpu", "--warmup", "0", "--repeats", "1", "--steps", "4", "--measured-steps", "2", "--json", json);
        Assert.That(r.Code, Is.EqualTo(0), r.Err);
        var result = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.That((string)result["quantization"]!, Is.EqualTo("int8-channel"));
        Assert.That((int)result["teacher"]!["Steps"]!, Is.EqualTo(4));
        Assert.That((int)result["teacher"]!["MeasuredSteps"]!, Is.EqualTo(2));
        Assert.That((int)result["packageLoop"]!["Steps"]!, Is.EqualTo(2), "the package's own sampler");
        Assert.That((double)result["speedupLoop"]!,
            Is.EqualTo((double)result["teacher"]!["LoopSeconds"]! / (double)result["packageLoop"]!["LoopSeconds"]!).Within(1e-9));
    }
}
