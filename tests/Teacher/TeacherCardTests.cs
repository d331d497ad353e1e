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
    public void AContinuedStageAddsItsScheduleToTheSourcesStepsTimeAndRuns()
    {
        using var folder = new TempFolder();
        var source = new TrainingRecord("transformer", 3000, 64, 5e-4, "cuda", 418, 2, 9_082_176, new Dictionary<string, double> { ["loss (last 50 steps)"] = 0.073 });
        TrainingRecord.Save(folder.Path, source); // the copy of the source model the continued run starts from
        var run = new TrainingRecord("transformer", 4000, 64, 3e-4, "cuda", 500, 1, 9_082_176, new Dictionary<string, double> { ["loss (last 50 steps)"] = 0.06 });
        TrainingRecord.Save(folder.Path, run.ContinuedFrom(source));
        var resumed = TrainingRecord.Save(folder.Path, (run with { Steps = 8000, Seconds = 400 }).ContinuedFrom(source));
        Assert.That(resumed.Steps, Is.EqualTo(11_000));
        Assert.That(resumed.Schedules, Is.EqualTo(new long[] { 3000, 8000 }));
        Assert.That(resumed.Seconds, Is.EqualTo(418 + 500 + 400));
        Assert.That(resumed.Runs, Is.EqualTo(4));
        Assert.That(TrainingRecord.Load(folder.Path, "transformer")!.Schedules, Is.EqualTo(new long[] { 3000, 8000 }));
        Assert.That(resumed.ContinuedFrom(resumed with { Steps = 0 }).Schedules, Is.EqualTo(new long[] { 3000, 8000, 11_000 }));

        TeacherCard.Write(folder.Path, null, null);
        Assert.That(File.ReadAllText(Path.Combine(folder.Path, "README.md")), Does.Contain("| transformer | 9,082,176 | 3,000 + 8,000 | 64 | 0.0003 | 22.0 min | 4 | cuda |"));
        Assert.That(File.ReadAllText(TrainingRecord.PathFor(folder.Path, "transformer")), Does.Not.Contain("StepsText"));
    }

    /// <summary>
    /// The bundled teacher's DiT continued at a vanishing learning rate: its loss is the trained model's, not a random
    /// init's (≈ 1), and the record adds the run's schedule to the source's.
    /// </summary>
    [Test]
    public void TheBundledTeachersDitContinuesFromItsTrainedWeights()
    {
        using var folder = new TempFolder();
        string source = Path.GetDirectoryName(Repository.FilePath("models", "tiny-wan-t2v", "training-transformer.json"))!;
        var before = TrainingRecord.Load(source, "transformer")!;
        string work = Path.Combine(folder.Path, "work");
        // Runs teacher-dit on the work folder up to `steps` steps in all (resuming it), at a vanishing learning rate.
        string Continue(int steps, int pool)
        {
            var (code, output, err) = CliRunner.RunShapes("teacher-dit", "--from", source, "--work", work, "--steps", $"{steps}", "--batch", "8",
                "--pool", $"{pool}", "--lr", "1e-12", "--device", "cpu");
            Assert.That(code, Is.EqualTo(0), err);
            return output;
        }
        TestContext.Out.WriteLine(Continue(steps: 2, pool: 8));
        var after = TrainingRecord.Load(Path.Combine(work, "model"), "transformer")!;
        Assert.That(after.Steps, Is.EqualTo(before.Steps + 2));
        Assert.That(after.Schedules, Is.EqualTo((before.Schedules ?? [before.Steps]).Append(2L)));
        Assert.That(after.Measures["loss (last 50 steps)"], Is.LessThan(0.2), "the source's weights were loaded");
        Assert.That(File.ReadAllBytes(Path.Combine(work, "model", "vae", "diffusion_pytorch_model.safetensors")),
            Is.EqualTo(File.ReadAllBytes(Path.Combine(source, "vae", "diffusion_pytorch_model.safetensors"))), "the other parts are the source's");

        string pool = Path.Combine(work, "latent-pool.safetensors");
        string resumed = Continue(steps: 3, pool: 8);
        Assert.That(resumed, Does.Contain($"latent pool: 8 clips read from {pool}"), "the resumed run reads the pool the first one encoded");
        Assert.That(resumed, Does.Not.Contain("clips encoded"));

        File.WriteAllBytes(pool, File.ReadAllBytes(pool)[..100]);
        string damaged = Continue(steps: 4, pool: 4);
        Assert.That(damaged, Does.Contain($"latent pool: {pool}:"), "a damaged pool is named");
        Assert.That(damaged, Does.Contain("latent pool: 4/4 clips encoded"), "and encoded again");
        Assert.That(Continue(steps: 5, pool: 8), Does.Contain("was built from other data or models; encoding again"), "a pool of 4 clips is not one of 8");
        Assert.That(TrainingRecord.Load(Path.Combine(work, "model"), "transformer")!.Steps, Is.EqualTo(before.Steps + 5));
    }

    [Test]
    public void ContinuingNeedsATrainedModelOfTheRecipe()
    {
        using var folder = new TempFolder();
        string model = Path.Combine(folder.Path, "model");
        foreach (var t in MicroTeacher.Write(model).Values) t.Dispose();
        string work = Path.Combine(folder.Path, "work");

        var (code, _, err) = CliRunner.RunShapes("teacher-dit", "--from", model, "--work", work, "--steps", "2", "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.StartWith($"error: --from {model}: no training-transformer.json"));

        TrainingRecord.Save(model, new TrainingRecord("transformer", 10, 2, 1e-3, "cpu", 1, 1, 1, new Dictionary<string, double>()));
        (code, _, err) = CliRunner.RunShapes("teacher-dit", "--from", model, "--work", work, "--steps", "2", "--pool", "2", "--batch", "2", "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.StartWith($"error: {Path.Combine(model, "transformer")}: not the architecture of tiny-wan-t2v's recipe"));

        (code, _, err) = CliRunner.RunShapes("teacher-vae", "--decoder-only", "--work", work, "--steps", "2", "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.StartWith("error: training only the VAE's decoder needs a trained VAE to start from"));

        (code, _, err) = CliRunner.RunShapes("teacher-vae", "--from", Path.Combine(folder.Path, "none"), "--work", work, "--steps", "2", "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.StartWith($"error: --from {Path.Combine(folder.Path, "none")}: not a model folder"));
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
