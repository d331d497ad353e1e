using System.Text.Json.Nodes;
using Turbo.Converter.Validation;
using Turbo.Tests.Cli;
using Turbo.Tests.Support;

namespace Turbo.Tests.Conversion;

public class ValidateCommandTests : TempFolderFixture
{
    /// <summary>A quantized micro package (run without its own validation), its teacher, and the validate arguments.</summary>
    (string Teacher, string Package) Convert(bool shapes = false)
    {
        string teacher = shapes ? MicroConversion.ShapesTeacher(Temp.Path) : MicroConversion.Teacher(Temp.Path);
        if (shapes) File.WriteAllLines(MicroConversion.PromptsFile(Temp.Path), MicroConversion.Prompts);
        string package = Temp.PathTo("micro.turbo");
        // quantized only, so that the package is close to its teacher
        var r = CliRunner.Run(["run", teacher, "-o", package, "--skip-validate", "--skip-distill", "--skip-sparsify", .. MicroConversion.Quick(Temp.Path)]);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Err);
        return (teacher, package);
    }

    CliRunner.Result Validate(string teacher, string package, params string[] extra) =>
        CliRunner.Run(["validate", package, "--against", teacher, "--prompts", "2", "--device", "cpu", .. extra]);

    [Test]
    public void TheJsonReportHasSpeedQualityAndGatesAndAFailedGateExitsWithThree()
    {
        var (teacher, package) = Convert();
        string json = Temp.PathTo("report.json"), html = Temp.PathTo("report.html");
        var r = Validate(teacher, package, "--prompts-file", MicroConversion.PromptsFile(Temp.Path), "--json", json, "--report", html,
            "--gate-min-psnr", "1000", "--seed", "7");
        Assert.That(r.ExitCode, Is.EqualTo(ValidationReport.GateFailedExitCode), r.Err);
        Assert.That(r.Err.Trim().Split('\n')[^1], Does.StartWith("gate failed: mean PSNR").And.Contain("< 1000 dB (--gate-min-psnr)"));
        Assert.That(r.Out, Does.Contain("speed-up").And.Contain("PSNR"));

        var report = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.That((long)report["seed"]!, Is.EqualTo(7));
        var prompts = report["prompts"]!.AsArray();
        Assert.That(prompts.Select(p => (string)p!["prompt"]!), Is.EqualTo(new[] { MicroConversion.Prompts[0], MicroConversion.Prompts[1] }));
        foreach (var p in prompts)
        {
            Assert.That((double)p!["psnrDb"]!, Is.GreaterThan(20).And.LessThan(200), "quantized: close to the teacher, not identical");
            Assert.That((double)p["ssim"]!, Is.InRange(0.5, 1.0));
            Assert.That((double)p["teacherSeconds"]!, Is.GreaterThan(0));
        }
        var speed = report["speed"]!;
        foreach (string who in new[] { "teacher", "package" })
        {
            Assert.That((int)speed[who]!["steps"]!, Is.EqualTo(2));
            Assert.That((int)speed[who]!["forwardsPerStep"]!, Is.EqualTo(2), "CFG 3: two forwards a step");
            Assert.That((double)speed[who]!["secondsPerStep"]!, Is.GreaterThan(0));
            Assert.That((double)speed[who]!["endToEndSeconds"]!, Is.GreaterThan((double)speed[who]!["denoiseSeconds"]!));
        }
        Assert.That((double)speed["endToEndSpeedup"]!,
            Is.EqualTo((double)speed["teacher"]!["endToEndSeconds"]! / (double)speed["package"]!["endToEndSeconds"]!).Within(1e-9));
        Assert.That(report["quality"]!["judge"], Is.Null, "no judge knows the micro teacher");
        var gate = report["gates"]!.AsArray().Single()!;
        Assert.That(((string)gate["option"]!, (double)gate["threshold"]!, (bool)gate["passed"]!), Is.EqualTo(("--gate-min-psnr", 1000.0, false)));

        string page = File.ReadAllText(html);
        Assert.That(page, Does.Contain("gate failed: mean PSNR").And.Contain("data:image/gif;base64,").And.Contain("data:image/png;base64,"));
        Assert.That(page, Does.Contain(MicroConversion.Prompts[1]));

        var passing = Validate(teacher, package, "--prompts-file", MicroConversion.PromptsFile(Temp.Path), "--gate-min-psnr", "20");
        Assert.That(passing.ExitCode, Is.EqualTo(0), passing.Err);
        Assert.That(passing.Out, Does.Contain("gate passed: mean PSNR"));
    }

    [Test]
    public void TheShapesTeacherIsRecognizedAndJudgedByTheOracle()
    {
        var (teacher, package) = Convert(shapes: true);
        string json = Temp.PathTo("report.json");
        var r = Validate(teacher, package, "--json", json, "--gate-max-adherence-drop", "1");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Err);
        var report = JsonNode.Parse(File.ReadAllText(json))!;
        var judge = report["quality"]!["judge"]!;
        Assert.That((string)judge["judge"]!, Is.EqualTo("shapes-oracle"));
        foreach (string who in new[] { "teacher", "package" })
        {
            Assert.That((double)judge[who]!["adherence"]!, Is.InRange(0.0, 1.0));
            Assert.That(double.IsFinite((double)judge[who]!["frechet"]!));
            Assert.That((double)judge[who]!["realAdherence"]!, Is.GreaterThan(0.8), "the oracle reads real clips of these prompts");
        }
        Assert.That((double)judge["adherenceDrop"]!,
            Is.EqualTo((double)judge["teacher"]!["adherence"]! - (double)judge["package"]!["adherence"]!).Within(1e-12));
        Assert.That(report["prompts"]!.AsArray().Select(p => (string)p!["prompt"]!),
            Is.SubsetOf(Turbo.CalibrationData.Prompts.PromptSets.Evaluation()), "the held-out evaluation prompts");

        var none = Validate(teacher, package, "--judge", "none", "--gate-max-adherence-drop", "0.1");
        Assert.That(none.ExitCode, Is.EqualTo(2));
        Assert.That(none.Err, Does.Contain("needs a quality judge"));
    }

    /// <summary>On a machine without fonts the report is still written: the tables and previews, no charts, and a note.</summary>
    [Test]
    public void WithoutAFontTheReportLeavesOutTheChartsAndSaysSo()
    {
        var (teacher, package) = Convert();
        var options = new ValidationOptions(Prompts: 2, PromptList: MicroConversion.Prompts);
        using var run = Validator.Run(package, teacher, options, TorchSharp.torch.CPU, new TestProgress());
        string html = Temp.PathTo("no-font.html");
        ValidationHtml.Write(html, run, drawText: false);
        string page = File.ReadAllText(html);
        Assert.That(page, Does.Contain(ValidationHtml.NoFontNote));
        Assert.That(page, Does.Not.Contain("data:image/png"), "no charts");
        Assert.That(System.Text.RegularExpressions.Regex.Matches(page, "data:image/gif;base64,").Count, Is.EqualTo(2), "a preview per prompt");
    }
}
