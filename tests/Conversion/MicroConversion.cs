using Turbo.CalibrationData.Prompts;
using Turbo.Converter.Conversion;
using Turbo.Quantizer;
using Turbo.Tests.Teacher;

namespace Turbo.Tests.Conversion;

/// <summary>Micro teachers and the options that make their conversions take seconds.</summary>
static class MicroConversion
{
    public static readonly string[] Prompts = ["a small red circle moves left", "a big green square", "a red square over a dark blue background"];

    /// <summary>The micro teacher (no judge knows it) and a prompts file beside it; returns the teacher folder.</summary>
    public static string Teacher(string root)
    {
        string teacher = Path.Combine(root, "teacher");
        foreach (var w in MicroTeacher.Write(teacher).Values) w.Dispose();
        File.WriteAllLines(PromptsFile(root), Prompts);
        return teacher;
    }

    /// <summary>A micro teacher that the Shapes oracle judges: the captions' words, clips of 32×32.</summary>
    public static string ShapesTeacher(string root)
    {
        string teacher = Path.Combine(root, "shapes-teacher");
        foreach (var w in MicroTeacher.Write(teacher, sampling: MicroTeacher.ShapesSampling, vocabulary: PromptSets.Vocabulary()).Values) w.Dispose();
        return teacher;
    }

    public static string PromptsFile(string root) => Path.Combine(root, "prompts.txt");

    /// <summary>
    /// Two teacher samples, two rCM, two SLA and two continued rCM steps of one sample (SLA blocks of 16 tokens, so packaged as SLA: SageSLA
    /// takes 64 or 128); small calibration and validation: 1 + 1 prompts, few rows; 2 validation prompts.
    /// </summary>
    public static string[] Quick(string root) =>
    [
        "--distill-samples", "2", "--sample-batch", "2", "--distill-prompts-file", PromptsFile(root), "--student-steps", "2",
        "--distill-steps", "2", "--distill-batch", "1", "--tangent-warmup", "1",
        "--sla-steps", "2", "--sla-batch", "1", "--block-q", "16", "--block-k", "16", "--refine-steps", "2", "--attention", "keep",
        "--calib-samples", "1", "--eval-samples", "1", "--calib-rows", "8", "--max-rows", "64", "--calib-prompts-file", PromptsFile(root),
        "--prompts", "2", "--prompts-file", PromptsFile(root), "--device", "cpu",
    ];

    public static TeacherData TeacherData(string root) => new(Samples: 2, PromptList: PromptChoice.ReadFile(PromptsFile(root)), Batch: 2);

    public static DistillSettings DistillSettings(string root) => new(TeacherData(root), StudentSteps: 2, Steps: 2, BatchSize: 1, TangentWarmup: 1);

    public static SparsifySettings SparsifySettings(string root) => new(TeacherData(root), BlockQ: 16, BlockK: 16, Steps: 2, BatchSize: 1);

    public static RefineSettings RefineSettings() => new(Steps: 2);

    public static QuantizeSettings QuantizeSettings(string root) =>
        new(Prompts: 1, EvaluationPrompts: 1, PromptList: PromptChoice.ReadFile(PromptsFile(root)), RowsPerCall: 8, MaxRows: 64);
}

/// <summary>Progress nobody watches; optionally throws when a stage it names advances (a stop in the middle of a write).</summary>
sealed class TestProgress(string? failIn = null) : IStageProgress
{
    string _current = "";

    public void Begin(string stage, double total) => _current = stage;

    public void Advance(double units)
    {
        if (failIn is not null && _current.StartsWith(failIn, StringComparison.Ordinal))
            throw new IOException($"injected failure in {_current}");
    }
}
