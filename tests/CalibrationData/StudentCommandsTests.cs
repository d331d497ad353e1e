using Turbo.CalibrationData.Teacher;
using Turbo.Converter.Cli;
using Turbo.Converter.Pipelines;
using Turbo.Distiller.Data;
using Turbo.Runtime.Attention;
using Turbo.Runtime.IO;
using Turbo.Runtime.Sampling;
using Turbo.Tests.Cli;
using Turbo.Tests.Support;
using Turbo.Tests.Teacher;
using static TorchSharp.torch;

namespace Turbo.Tests.CalibrationData;

/// <summary>The student stages end to end on a micro teacher in the teacher's layout (a few steps each).</summary>
public sealed class StudentCommandsTests
{

    [Test]
    public void TheStudentStagesRunInTurnOnATeacherFolder()
    {
        using var work = new TempFolder();
        foreach (var w in MicroTeacher.Write(TeacherTraining.ModelFolder(work.Path)).Values) w.Dispose();
        string[] common = ["--work", work.Path, "--device", "cpu"];

        var (code, output, error) = CliRunner.RunShapes(["student-data", "--prompts", "3", "--batch", "2", "--shard", "2", .. common]);
        Assert.That(code, Is.EqualTo(0), error);
        using (var samples = TeacherSamples.Open(StudentTraining.SamplesFolder(work.Path)))
            Assert.That(samples.Count, Is.EqualTo(3));

        (code, output, error) = CliRunner.RunShapes(["student-rcm", "--steps", "3", "--warmup", "1", "--batch", "2", "--steps-student", "2", .. common]);
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output, Does.Contain("rCM: step 3"));
        using (var student = WanTextToVideo.Load(StudentTraining.RcmModel(work.Path), CPU, ScalarType.Float32))
        {
            Assert.That(student.Defaults.Solver, Is.EqualTo(FlowSolvers.Rcm));
            Assert.That(student.Defaults.Steps, Is.EqualTo(2));
            Assert.That(student.Defaults.Guidance, Is.EqualTo(1));
            using var clip = student.Generate(["a small red circle moves left"], seed: 1, student.Defaults);
            Assert.That(clip.isfinite().all().item<bool>());
        }
        Assert.That(TrainingRecord.Load(StudentTraining.RcmModel(work.Path), "rcm")!.Steps, Is.EqualTo(3));

        (code, _, error) = CliRunner.RunShapes(["student-sla", "--steps", "2", "--batch", "2", "--top-k", "0.5", "--block-q", "16", "--block-k", "16", .. common]);
        Assert.That(code, Is.EqualTo(0), error);
        (code, _, error) = CliRunner.RunShapes(["student-merge", .. common]);
        Assert.That(code, Is.EqualTo(0), error);
        using var merged = SafetensorsFile.Open(StudentTraining.MergedTransformer(work.Path));
        Assert.That(merged.Tensors.Count(t => t.Name.EndsWith("proj_l.weight")), Is.EqualTo(MicroTeacher.Transformer.NumLayers));
        var (attention, weights) = TransformerCheckpoint.Read(StudentTraining.MergedTransformer(work.Path));
        foreach (var t in weights.Values) t.Dispose();
        Assert.That(attention.Kind, Is.EqualTo(AttentionKind.Sla));
        Assert.That(attention.TopK, Is.EqualTo(0.5));

        (code, output, error) = CliRunner.RunShapes(["student-sla", "--tune", "student", "--steps", "2", "--batch", "2", "--top-k", "0.5", "--block-q", "16", "--block-k", "16", .. common]);
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output, Does.Contain(StudentTraining.TunedStudentTransformer(work.Path)));
        var (studentAttention, studentWeights) = TransformerCheckpoint.Read(StudentTraining.TunedStudentTransformer(work.Path));
        foreach (var t in studentWeights.Values) t.Dispose();
        Assert.That(studentAttention.Kind, Is.EqualTo(AttentionKind.Sla));
        Assert.That(TrainingRecord.Load(Path.GetDirectoryName(StudentTraining.TunedStudentTransformer(work.Path))!, "sla")!.Steps, Is.EqualTo(2));
        // Run again at its end, as a resumable script does: nothing is trained and the record stays as it was.
        var finished = TrainingRecord.Load(Path.GetDirectoryName(StudentTraining.TunedStudentTransformer(work.Path))!, "sla")!;
        (code, output, error) = CliRunner.RunShapes(["student-sla", "--tune", "student", "--steps", "2", "--batch", "2", "--top-k", "0.5", "--block-q", "16", "--block-k", "16", .. common]);
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output, Does.Contain("SLA: resuming at step 2"));
        var again = TrainingRecord.Load(Path.GetDirectoryName(StudentTraining.TunedStudentTransformer(work.Path))!, "sla")!;
        Assert.That((again.Steps, again.Runs, again.Seconds), Is.EqualTo((finished.Steps, finished.Runs, finished.Seconds)));
        Assert.That(again.Measures, Is.EquivalentTo(finished.Measures));

        // rCM with SLA in the student from its first step (the tangent's double backward runs through both branches).
        (code, output, error) = CliRunner.RunShapes(["student-rcm", "--steps", "3", "--warmup", "1", "--batch", "2", "--top-k", "0.5", "--block-q", "16", "--block-k", "16", .. common]);
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output, Does.Contain(StudentTraining.SparseRcmTransformer(work.Path)));
        var (sparseAttention, sparseWeights) = TransformerCheckpoint.Read(StudentTraining.SparseRcmTransformer(work.Path));
        try
        {
            Assert.That(sparseAttention.Kind, Is.EqualTo(AttentionKind.Sla));
            Assert.That(sparseAttention.BlockQ, Is.EqualTo(16));
            var projections = sparseWeights.Where(kv => kv.Key.EndsWith("proj_l.weight")).Select(kv => kv.Value).ToList();
            Assert.That(projections, Has.Count.EqualTo(MicroTeacher.Transformer.NumLayers));
            Assert.That(projections.Any(p => p.abs().max().item<float>() > 0), "proj_l, zero at the start, is trained");
        }
        finally { foreach (var t in sparseWeights.Values) t.Dispose(); }
        Assert.That(TrainingRecord.Load(Path.GetDirectoryName(StudentTraining.SparseRcmTransformer(work.Path))!, "rcm")!.Steps, Is.EqualTo(3));

        // rCM continued from the SLA-tuned student: its weights and its attention are where the student starts.
        string tuned = StudentTraining.TunedStudentTransformer(work.Path);
        (code, output, error) = CliRunner.RunShapes(["student-rcm", "--steps", "2", "--warmup", "1", "--batch", "2", "--from", tuned, .. common]);
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output, Does.Contain(StudentTraining.ContinuedRcmTransformer(work.Path)));
        var (startAttention, startWeights) = TransformerCheckpoint.Read(tuned);
        var (continuedAttention, continuedWeights) = TransformerCheckpoint.Read(StudentTraining.ContinuedRcmTransformer(work.Path));
        try
        {
            Assert.That(continuedAttention, Is.EqualTo(startAttention));
            Assert.That(continuedWeights.Keys, Is.EquivalentTo(startWeights.Keys));
            // Nearer the checkpoint it started from than the teacher, which the checkpoint's training moved away from.
            using var teacher = WanTextToVideo.Load(TeacherTraining.ModelFolder(work.Path), CPU, ScalarType.Float32);
            var teacherWeights = teacher.Transformer.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
            double FromStart(string n) => (continuedWeights[n] - startWeights[n]).abs().sum().item<float>();
            double FromTeacher(string n) => (continuedWeights[n] - teacherWeights[n]).abs().sum().item<float>();
            var shared = teacherWeights.Keys.Where(n => n.Contains("ffn")).ToList();
            Assert.That(shared.Sum(FromStart), Is.GreaterThan(0), "the continued student is trained");
            Assert.That(shared.Sum(FromStart), Is.LessThan(shared.Sum(FromTeacher)));
        }
        finally { foreach (var t in startWeights.Values.Concat(continuedWeights.Values)) t.Dispose(); }

        // A checkpoint whose attention only runs forward (SageSla, what packages run) cannot be trained.
        string forwardOnly = Path.Combine(work.Path, "sage-sla.safetensors");
        var (tunedAttention, tunedWeights) = TransformerCheckpoint.Read(tuned);
        try { TransformerCheckpoint.Write(forwardOnly, tunedAttention with { Kind = AttentionKind.SageSla, BlockQ = 64, BlockK = 64 }, tunedWeights); }
        finally { foreach (var t in tunedWeights.Values) t.Dispose(); }
        (code, _, error) = CliRunner.RunShapes(["student-rcm", "--steps", "2", "--batch", "2", "--from", forwardOnly, .. common]);
        Assert.That(code, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(error, Does.Contain("forward-only"));
    }

    [Test]
    public void BadChoicesAreOneLineUserErrors()
    {
        var (code, _, error) = CliRunner.RunShapes("student-rcm", "--tangent", "forward", "--device", "cpu");
        Assert.That(code, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(error, Does.Contain("--tangent forward"));
        (code, _, error) = CliRunner.RunShapes("teacher-evaluate", "--sampler", "ddim", "--device", "cpu");
        Assert.That(code, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(error, Does.Contain("--sampler ddim"));
        string teacher = Path.GetDirectoryName(Repository.FilePath("models", "tiny-wan-t2v", "model_index.json"))!;
        (code, _, error) = CliRunner.RunShapes("teacher-evaluate", "--model", teacher, "--shift", "0", "--device", "cpu");
        Assert.That(code, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(error, Does.Contain("--shift 0: expected a number > 0"));
        (code, _, error) = CliRunner.RunShapes("student-sla", "--tune", "critic", "--device", "cpu");
        Assert.That(code, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(error, Does.Contain("--tune critic"));
        (code, _, error) = CliRunner.RunShapes("student-sla", "--top-k", "0", "--device", "cpu");
        Assert.That(code, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(error, Does.Contain("top-k"));
        (code, _, error) = CliRunner.RunShapes("student-rcm", "--top-k", "1.5", "--device", "cpu");
        Assert.That(code, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(error, Does.Contain("top-k"));
        (code, _, error) = CliRunner.RunShapes("student-rcm", "--top-k", "0.1", "--from", "any.safetensors", "--device", "cpu");
        Assert.That(code, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(error, Does.Contain("not both"));
        using var empty = new TempFolder();
        (code, _, error) = CliRunner.RunShapes("student-rcm", "--work", empty.Path, "--device", "cpu", "--steps", "1");
        Assert.That(code, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(error, Does.Contain("model_index.json"));
    }
}
