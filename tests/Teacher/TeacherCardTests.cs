using Turbo.CalibrationData.Prompts;
using Turbo.CalibrationData.Teacher;
using Turbo.Converter.Pipelines;
using Turbo.Tests.Cli;
using Turbo.Tests.Support;

namespace Turbo.Tests.Teacher;

public class TeacherCardTests
{
    [Test]
    public void TheCardCarriesTheRecipeTheSummedTrainingRecordsAndTheQuality()
    {
        using var folder = new TempFolder();
        var run = new TrainingRecord("vae", 1000, 16, 1e-3, "cuda", 120, 1, 7_343_443, new Dictionary<string, double> { ["held-out PSNR dB"] = 31.25 });
        TrainingRecord.Save(folder.Path, run);
        var resumed = TrainingRecord.Save(folder.Path, run with { Steps = 2000, Seconds = 60 });
        Assert.That(resumed.Seconds, Is.EqualTo(180));
        Assert.That(resumed.Runs, Is.EqualTo(2));
        Assert.That(resumed.Steps, Is.EqualTo(2000));

        var quality = new ModelQuality(288, 0.925, 12.5, 1.0, 6.8, new Dictionary<string, double> { ["shape"] = 0.9 }, 40, TeacherRecipe.Sampling);
        TeacherCard.Write(folder.Path, quality, "generated.gif");
        string card = File.ReadAllText(Path.Combine(folder.Path, "README.md"));
        Assert.That(card, Does.Contain("# tiny-wan-t2v"));
        Assert.That(card, Does.Contain("| vae | 7,343,443 | 2,000 | 16 | 0.001 | 3.0 min | 2 | cuda | held-out PSNR dB 31.250 |"));
        Assert.That(card, Does.Contain("| generated | 92.5 % | 12.50 |"));
        Assert.That(card, Does.Contain("| real (ceiling) | 100.0 % | 6.80 |"));
        Assert.That(card, Does.Contain("![generated clips](generated.gif)"));

        TeacherCard.Write(folder.Path, null, null);
        Assert.That(File.ReadAllText(Path.Combine(folder.Path, "README.md")), Does.Contain("Not evaluated yet"));
    }

    [Test]
    public void TeacherCardTakesAFullEvaluationMadeElsewhereAndRefusesAPartialOne()
    {
        using var folder = new TempFolder();
        string model = Path.Combine(folder.Path, "model");
        foreach (var t in MicroTeacher.Write(model).Values) t.Dispose();
        string grid = Path.Combine(folder.Path, "grid.gif");
        File.WriteAllBytes(grid, [0x47, 0x49, 0x46]);
        var full = new ModelQuality(PromptSets.Evaluation().Count, 0.75, 190, 1.0, 2.8, new Dictionary<string, double> { ["shape"] = 0.3 }, 12, MicroTeacher.Sampling);
        string quality = Path.Combine(folder.Path, "quality.json");

        File.WriteAllText(quality, TeacherEvaluation.Json(full with { Prompts = 16 }));
        var (code, _, err) = CliRunner.RunShapes("teacher-card", "--model", model, "--quality", quality, "--grid", grid);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("this evaluation has 16 prompts"));
        Assert.That(File.Exists(Path.Combine(model, "generated.gif")), Is.False);

        File.WriteAllText(quality, "{ \"Prompts\": ");
        (code, _, err) = CliRunner.RunShapes("teacher-card", "--model", model, "--quality", quality, "--grid", grid);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.StartWith($"error: {quality}: not an evaluation written by teacher-evaluate"));

        File.WriteAllText(quality, TeacherEvaluation.Json(full));
        (code, _, err) = CliRunner.RunShapes("teacher-card", "--model", model, "--quality", quality, "--grid", grid);
        Assert.That(code, Is.EqualTo(0), err);
        Assert.That(File.ReadAllText(Path.Combine(model, "README.md")), Does.Contain("| generated | 75.0 % | 190.00 |"));
        Assert.That(File.ReadAllBytes(Path.Combine(model, "generated.gif")), Is.EqualTo(File.ReadAllBytes(grid)));
    }

}
