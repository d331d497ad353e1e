using System.Text.Json.Nodes;
using Turbo.Converter.Conversion;
using Turbo.Converter.Validation;
using Turbo.Runtime.Attention;
using Turbo.Runtime.Packaging;
using Turbo.Tests.Cli;
using Turbo.Tests.Support;
using Turbo.Tests.Teacher;
using static TorchSharp.torch;

namespace Turbo.Tests.Conversion;

public class ConversionRunTests : TempFolderFixture
{
    CliRunner.Result Run(string teacher, string package, params string[] extra) =>
        CliRunner.Run(["run", teacher, "-o", package, .. MicroConversion.Quick(Temp.Path), .. extra]);

    /// <summary>The stages `run` builds from <see cref="MicroConversion.Quick"/> (the same settings, so `run --resume` accepts their work).</summary>
    IReadOnlyList<IConversionStage> Stages(string package) => ConversionRecipe.Stages(new RecipeChoices(package,
        MicroConversion.DistillSettings(Temp.Path), MicroConversion.SparsifySettings(Temp.Path), MicroConversion.RefineSettings(),
        MicroConversion.QuantizeSettings(Temp.Path),
        PackageStage.KeepAttention, new ValidationOptions(), Judge: null, CPU) { SkipValidate = true });

    [Test]
    public void AStopInThePackageWriteLeavesNoPackageAndResumeWritesTheSamePackageAsAnUninterruptedRun()
    {
        string teacher = MicroConversion.Teacher(Temp.Path);
        var clean = Run(teacher, Temp.PathTo("clean.turbo"), "--skip-validate");
        Assert.That(clean.ExitCode, Is.EqualTo(0), clean.Err);
        Assert.That(clean.Out, Does.Contain("quantize").And.Contain("package").And.Contain("ran"));

        // A run stopped inside rCM training, after the teacher's samples were drawn (as a kill would stop it) ...
        string package = Temp.PathTo("resumed.turbo");
        var (work, initial) = WorkFolder.Prepare(WorkFolder.DefaultFor(package), teacher, resume: false);
        var inDistill = new StageRunner(work, (name, stage) => stage(new TestProgress(failIn: "rCM")));
        Assert.That(Assert.Throws<IOException>(() => inDistill.Run(Stages(package), initial))!.Message, Does.Contain("injected failure"));
        Assert.That(Directory.GetFiles(Path.Combine(work.Root, "distill", TeacherData.FolderName), "*.safetensors"), Is.Not.Empty);
        Assert.That(File.Exists(Path.Combine(work.Root, "distill", StageMarker.FileName)), Is.False);

        // ... then, resumed, stopped in the middle of writing the package, after quantize finished.
        var inPackage = new StageRunner(work, (name, stage) => stage(new TestProgress(failIn: "package")));
        var e = Assert.Throws<IOException>(() => inPackage.Run(Stages(package), initial));
        Assert.That(e!.Message, Does.Contain("injected failure"));
        Assert.That(Directory.Exists(package), Is.False, "no package folder after a failed write");
        Assert.That(Directory.GetFileSystemEntries(Temp.Path, "resumed.turbo*").Select(Path.GetFileName), Is.EqualTo(new[] { "resumed.turbo.work" }));
        Assert.That(Directory.Exists(Path.Combine(work.Root, "package", "partial")), Is.False, "the partial package was removed");
        Assert.That(File.Exists(Path.Combine(work.Root, "quantize", StageMarker.FileName)), Is.True);

        var resumed = Run(teacher, package, "--skip-validate", "--resume");
        Assert.That(resumed.ExitCode, Is.EqualTo(0), resumed.Err);
        Assert.That(resumed.Out, Does.Contain("done before"));
        var a = PackageFolder.Open(Temp.PathTo("clean.turbo"));
        var b = PackageFolder.Open(package);
        Assert.That(b.Files, Is.EqualTo(a.Files), "every file of the package has the same SHA-256");
        Assert.That(Comparable(package), Is.EqualTo(Comparable(Temp.PathTo("clean.turbo"))), "the same manifest but for the start time");
        Assert.That(b.Quantization.Scheme, Is.EqualTo("int8-channel"));
        Assert.That(b.Quantization.Layers, Is.EqualTo(2 * 10));
        Assert.That(b.Stages.Select(s => s.Name), Is.EqualTo(new[] { "distill", "sparsify", "refine", "quantize", "package" }));
        Assert.That(b.Sampler, Is.EqualTo(new SamplerSettings { Solver = "rcm", Steps = 2, Guidance = 1, Shift = MicroTeacher.Sampling.Shift }));
        Assert.That(Enumerable.Range(0, b.Config.NumLayers).Select(i => b.Config.AttentionOf(i).Kind), Is.All.EqualTo(AttentionKind.Sla));

        string manifestHash = PackageFolder.Sha256(Path.Combine(package, PackageManifest.FileName));
        var again = Run(teacher, package, "--skip-validate", "--resume");
        Assert.That(again.ExitCode, Is.EqualTo(0), again.Err);
        Assert.That(again.Out, Does.Not.Contain("│ ran"), "a finished conversion resumes to nothing");
        Assert.That(PackageFolder.Sha256(Path.Combine(package, PackageManifest.FileName)), Is.EqualTo(manifestHash));

        var changed = Run(teacher, package, "--skip-validate", "--resume", "--scheme", "int8-block128");
        Assert.That(changed.ExitCode, Is.EqualTo(2));
        Assert.That(changed.Err, Does.Contain("stage quantize finished with other settings").And.Contain("scheme: int8-channel → int8-block128"));
    }

    [Test]
    public void TheStagesAsCommandsMakeTheSamePackageAsRun()
    {
        string teacher = MicroConversion.Teacher(Temp.Path), prompts = MicroConversion.PromptsFile(Temp.Path);
        var run = Run(teacher, Temp.PathTo("run.turbo"), "--skip-validate");
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        string[] data = ["--distill-samples", "2", "--sample-batch", "2", "--distill-prompts-file", prompts, "--device", "cpu"];
        var distill = CliRunner.Run(["distill", teacher, "-o", Temp.PathTo("distilled"), .. data,
            "--student-steps", "2", "--distill-steps", "2", "--distill-batch", "1", "--tangent-warmup", "1"]);
        Assert.That(distill.ExitCode, Is.EqualTo(0), distill.Err);
        Assert.That(distill.Out, Does.Contain("rCM sampler × 2 steps"));
        var sparsify = CliRunner.Run(["sparsify", Temp.PathTo("distilled"), "-o", Temp.PathTo("sparse"), .. data,
            "--sla-steps", "2", "--sla-batch", "1", "--block-q", "16", "--block-k", "16"]);
        Assert.That(sparsify.ExitCode, Is.EqualTo(0), sparsify.Err);
        Assert.That(sparsify.Out, Does.Contain("the distilled student, SLA-tuned to its dense self"), "the default after distill");
        var refine = CliRunner.Run("refine", Temp.PathTo("sparse"), "-o", Temp.PathTo("refined"), "--refine-steps", "2", "--distill-batch", "1", "--device", "cpu");
        Assert.That(refine.ExitCode, Is.EqualTo(0), refine.Err);
        Assert.That(refine.Out, Does.Contain("2 steps of 1;"));
        var refined = ModelState.Load(Path.Combine(Temp.PathTo("refined"), ModelState.FileName));
        Assert.That(refined.Config.Attention.Kind, Is.EqualTo(AttentionKind.Sla), "the student stays sparse");
        Assert.That(PackageFolder.Sha256(refined.Transformer.Path),
            Is.Not.EqualTo(PackageFolder.Sha256(ModelState.Load(Path.Combine(Temp.PathTo("sparse"), ModelState.FileName)).Transformer.Path)), "refine trains it");
        var quantize = CliRunner.Run("quantize", Temp.PathTo("refined"), "-o", Temp.PathTo("quantized"), "--calib-samples", "1", "--eval-samples", "1",
            "--calib-rows", "8", "--max-rows", "64", "--calib-prompts-file", prompts, "--attention", "keep", "--device", "cpu");
        Assert.That(quantize.ExitCode, Is.EqualTo(0), quantize.Err);
        Assert.That(quantize.Out, Does.Contain("velocity cosine"));
        var package = CliRunner.Run("package", Temp.PathTo("quantized"), "-o", Temp.PathTo("steps.turbo"), "--attention", "keep");
        Assert.That(package.ExitCode, Is.EqualTo(0), package.Err);
        Assert.That(PackageFolder.Open(Temp.PathTo("steps.turbo")).Files, Is.EqualTo(PackageFolder.Open(Temp.PathTo("run.turbo")).Files));

        var again = CliRunner.Run("quantize", teacher, "-o", Temp.PathTo("quantized"), "--calib-prompts-file", prompts, "--device", "cpu");
        Assert.That(again.ExitCode, Is.EqualTo(2));
        Assert.That(again.Err, Does.Contain("already holds a finished stage"));
        var bareOption = CliRunner.Run("quantize", teacher, "-o", Temp.PathTo("q2"), "--calib-steps", "4", "--device", "cpu");
        Assert.That(bareOption.ExitCode, Is.EqualTo(2));
        Assert.That(bareOption.Err, Does.Contain("--calib-steps: applies to bare checkpoints"));
    }

    /// <summary>
    /// TurboDiffusion's merge instead of tuning the student (the default); tuning the student is refused without
    /// distillation, where by default the teacher is tuned.
    /// </summary>
    [Test]
    public void SparsifyCanMergeATunedTeacherIntoTheStudent()
    {
        string teacher = MicroConversion.Teacher(Temp.Path), prompts = MicroConversion.PromptsFile(Temp.Path);
        string[] data = ["--distill-samples", "2", "--sample-batch", "2", "--distill-prompts-file", prompts, "--device", "cpu"];
        string[] sla = ["--sla-steps", "2", "--sla-batch", "1", "--block-q", "16", "--block-k", "16"];
        var distill = CliRunner.Run(["distill", teacher, "-o", Temp.PathTo("distilled"), .. data, "--student-steps", "2", "--distill-steps", "2",
            "--distill-batch", "1", "--tangent-warmup", "1"]);
        Assert.That(distill.ExitCode, Is.EqualTo(0), distill.Err);
        var merged = CliRunner.Run(["sparsify", Temp.PathTo("distilled"), "-o", Temp.PathTo("sparse"), .. data, .. sla, "--sla-tune", "teacher"]);
        Assert.That(merged.ExitCode, Is.EqualTo(0), merged.Err);
        Assert.That(merged.Out, Does.Contain("the distilled student + (SLA-tuned − teacher)"));
        var state = ModelState.Load(Path.Combine(Temp.PathTo("sparse"), ModelState.FileName));
        Assert.That((state.Sampler.Solver, state.Config.Attention.Kind), Is.EqualTo(("rcm", AttentionKind.Sla)));

        var tunedTeacher = CliRunner.Run(["sparsify", teacher, "-o", Temp.PathTo("sparse-teacher"), .. data, .. sla]);
        Assert.That(tunedTeacher.ExitCode, Is.EqualTo(0), tunedTeacher.Err);
        Assert.That(tunedTeacher.Out, Does.Contain("the SLA-tuned teacher"));
        var refused = CliRunner.Run(["sparsify", teacher, "-o", Temp.PathTo("no"), .. data, .. sla, "--sla-tune", "student"]);
        Assert.That(refused.ExitCode, Is.EqualTo(2));
        Assert.That(refused.Err, Does.Contain("--sla-tune student: the model is not a distilled student"));
        Assert.That(Directory.Exists(Temp.PathTo("no")), Is.False, "a refused stage leaves no output folder");
        var notDistilled = CliRunner.Run("refine", Temp.PathTo("sparse-teacher"), "-o", Temp.PathTo("no"), "--device", "cpu");
        Assert.That(notDistilled.ExitCode, Is.EqualTo(2));
        Assert.That(notDistilled.Err, Does.Contain("refine: continues the rCM distillation of a student"));
        Assert.That(Directory.Exists(Temp.PathTo("no")), Is.False, "a refused stage leaves no output folder");
    }

    /// <summary>
    /// 0 training steps: the package has the student's sampler and SLA with untrained weights, without any teacher
    /// samples; the package's parent folder is created.
    /// </summary>
    [Test]
    public void ZeroTrainingStepsMakeASpeedPreviewWithoutTeacherSamples()
    {
        string teacher = MicroConversion.Teacher(Temp.Path), package = Temp.PathTo("new/preview.turbo");
        var r = CliRunner.Run("run", teacher, "-o", package, "--distill-steps", "0", "--sla-steps", "0", "--student-steps", "3", "--block-q", "16",
            "--block-k", "16", "--attention", "keep", "--skip-quantize", "--skip-validate", "--device", "cpu");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Err);
        Assert.That(r.Out, Does.Contain("speed preview"));
        Assert.That(r.Out, Does.Contain("the distilled student with untrained SLA"), "nothing was SLA-tuned");
        var manifest = PackageFolder.Open(package);
        Assert.That((manifest.Sampler.Solver, manifest.Sampler.Steps, manifest.Sampler.Guidance), Is.EqualTo(("rcm", 3, 1.0)));
        Assert.That(manifest.Config.AttentionOf(0).Kind, Is.EqualTo(AttentionKind.Sla));
        Assert.That(Directory.GetDirectories(WorkFolder.DefaultFor(package), TeacherData.FolderName, SearchOption.AllDirectories), Is.Empty);

        // Untrained SLA is the teacher's own weights, not copied, and an extra file of SLA's zero proj_l for every block.
        var sparsified = ModelState.Load(Path.Combine(WorkFolder.DefaultFor(package), "sparsify", ModelState.FileName));
        var refined = ModelState.Load(Path.Combine(WorkFolder.DefaultFor(package), "refine", ModelState.FileName));
        Assert.That(refined.Transformer, Is.EqualTo(sparsified.Transformer), "refine trains nothing either");
        Assert.That(sparsified.Transformer, Is.EqualTo(new TransformerWeights(Path.Combine(teacher, "transformer"), Canonical: false,
            Extra: Path.Combine(WorkFolder.DefaultFor(package), "sparsify", SparsifyStage.FreshParametersFile))));
        using var fresh = Turbo.Runtime.IO.SafetensorsFile.Open(sparsified.Transformer.Extra!);
        Assert.That(fresh.Tensors.Select(t => t.Name), Is.All.Contains(".proj_l."));
        Assert.That(fresh.Tensors, Has.Count.EqualTo(2 * manifest.Config.NumLayers));
        foreach (var t in fresh.Tensors)
            using (var values = fresh.Read(t.Name)) Assert.That(values.count_nonzero().item<long>(), Is.EqualTo(0), t.Name);
        using var merged = TransformerReader.Open(sparsified.Transformer);
        using var source = TransformerReader.Open(sparsified.Transformer with { Extra = null });
        Assert.That(merged.Tensors.Count, Is.EqualTo(source.Tensors.Count + fresh.Tensors.Count));
    }

    /// <summary>The quantize stage calibrates the model with the attention the package will run (--attention sage: SageSLA).</summary>
    [Test]
    public void QuantizationIsCalibratedWithThePackagesAttention()
    {
        string teacher = MicroConversion.Teacher(Temp.Path), package = Temp.PathTo("sage.turbo");
        string[] quantize = ["--calib-samples", "1", "--eval-samples", "1", "--calib-rows", "8", "--max-rows", "64", "--calib-prompts-file",
            MicroConversion.PromptsFile(Temp.Path)];
        var r = CliRunner.Run(["run", teacher, "-o", package, "--distill-steps", "0", "--sla-steps", "0", "--block-q", "64", "--block-k", "64",
            "--attention", "sage", .. quantize, "--skip-validate", "--device", "cpu"]);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Err);
        string settings = File.ReadAllText(Path.Combine(WorkFolder.DefaultFor(package), "quantize", QuantizeStage.CheckpointFolder,
            Turbo.Quantizer.Output.QuantizationOutput.CalibrationFolder, Turbo.Quantizer.Calibration.CalibrationStore.SettingsFile));
        var config = System.Text.Json.Nodes.JsonNode.Parse(System.Text.Json.Nodes.JsonNode.Parse(settings)!["config"]!.GetValue<string>())!;
        Assert.That(config["Attention"]!["Kind"]!.GetValue<int>(), Is.EqualTo((int)AttentionKind.SageSla), "the calibration's model config");
        Assert.That(PackageFolder.Open(package).Config.AttentionOf(0).Kind, Is.EqualTo(AttentionKind.SageSla));
    }

    [Test]
    public void BadInputFailsBeforeAnyWork()
    {
        string teacher = MicroConversion.Teacher(Temp.Path);
        var r = CliRunner.Run("run", teacher, "-o", Temp.PathTo("a.turbo"), "--device", "cpu");
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("no training prompts known for this teacher").And.Contain("--distill-prompts-file"));
        r = CliRunner.Run("run", teacher, "-o", Temp.PathTo("a.turbo"), "--device", "cpu", "--skip-distill", "--skip-sparsify");
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("no prompts known for this teacher").And.Contain("--calib-prompts-file"));
        string prompts = MicroConversion.PromptsFile(Temp.Path);
        r = CliRunner.Run("run", teacher, "-o", Temp.PathTo("a.turbo"), "--distill-prompts-file", prompts, "--student-steps", "5");
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("steps must be 1 to 4"));
        r = CliRunner.Run("run", teacher, "-o", Temp.PathTo("a.turbo"), "--distill-prompts-file", prompts, "--top-k", "1.5");
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("--top-k 1.5"));
        r = CliRunner.Run("run", teacher, "-o", Temp.PathTo("a.turbo"), "--distill-prompts-file", prompts, "--block-q", "16");
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("--attention sage runs SLA as SageSLA").And.Contain("--block-q 16").And.Contain("--attention keep"));
        r = Run(teacher, Temp.PathTo("b.turbo"), "--gate-max-adherence-drop", "0.05");
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("needs a quality judge"));
        r = Run(Temp.PathTo("nothing"), Temp.PathTo("c.turbo"));
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Err.Trim().Split('\n'), Has.Length.EqualTo(1));
        Directory.CreateDirectory(Temp.PathTo("d.turbo"));
        r = Run(teacher, Temp.PathTo("d.turbo"));
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("already exists"));
        Assert.That(Directory.GetDirectories(Temp.Path).Select(Path.GetFileName), Is.EquivalentTo(new[] { "teacher", "d.turbo" }), "nothing written");
    }

    /// <summary>The manifest without its start time (two separate conversions begin at different times).</summary>
    static string Comparable(string package)
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(package, PackageManifest.FileName)))!;
        json["provenance"]!.AsObject().Remove("created");
        return json.ToJsonString();
    }
}
