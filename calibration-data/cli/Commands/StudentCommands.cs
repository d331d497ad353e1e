using System.CommandLine;
using System.Globalization;
using Turbo.CalibrationData.Teacher;
using Turbo.Converter.Conversion;
using Turbo.Distiller.Data;
using Turbo.Distiller.Rcm;
using Turbo.Distiller.Sla;
using Turbo.Runtime;
using Turbo.Runtime.Attention;

namespace Turbo.CalibrationData.Cli;

/// <summary>
/// `student-data`, `student-rcm`, `student-sla`, `student-merge`: TurboDiffusion's recipe on the bundled teacher
/// (<see cref="StudentTraining"/>), each stage resumable from the teacher's work folder.
/// </summary>
public static class StudentCommands
{
    static Option<string> Work() => new("--work") { Description = "the teacher's work folder (model/ holds the teacher; the stages add theirs)", DefaultValueFactory = _ => "out/teacher" };
    static Option<double?> TimeLimit() => new("--time-limit") { Description = "minutes after which training stops, checkpointed; run again to resume" };
    static Option<string> DeviceOption() => new("--device") { Description = "auto, cuda or cpu", DefaultValueFactory = _ => "auto" };
    static TimeSpan? Minutes(double? minutes) => minutes is { } m ? TimeSpan.FromMinutes(m) : null;

    public static Command Data()
    {
        Option<string> work = Work(), device = DeviceOption();
        var count = new Option<int>("--prompts") { Description = "training-split captions to sample", DefaultValueFactory = _ => 4096 };
        var batch = new Option<int>("--batch") { Description = "prompts sampled at once", DefaultValueFactory = _ => 64 };
        var shard = new Option<int>("--shard") { Description = "samples per shard file", DefaultValueFactory = _ => 512 };
        var command = new Command("student-data", "Sample the teacher (its own sampler and guidance) for training captions; write WORK/teacher-samples shard by shard (resumable).")
        {
            work, count, batch, shard, device,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(count) < 1) throw new TurboException("--prompts must be at least 1");
            var target = TeacherCommands.Prepare(parse.GetRequiredValue(device));
            var console = parse.InvocationConfiguration.Output;
            var settings = new TeacherSampleSettings { ShardSize = parse.GetValue(shard), BatchSize = parse.GetValue(batch) };
            int written = StudentTraining.SampleTeacher(parse.GetRequiredValue(work), parse.GetValue(count), settings, target, console.WriteLine);
            console.WriteLine($"{written} teacher samples in {StudentTraining.SamplesFolder(parse.GetRequiredValue(work))}");
            return 0;
        });
        return command;
    }

    public static Command Rcm()
    {
        var defaults = new RcmSettings();
        Option<string> work = Work(), device = DeviceOption();
        var limit = TimeLimit();
        var steps = new Option<int>("--steps") { Description = "optimizer steps in all (student and critic)", DefaultValueFactory = _ => 3000 };
        var studentSteps = new Option<int>("--steps-student") { Description = "sampling steps of the student (1–4), recorded in its folder", DefaultValueFactory = _ => 4 };
        var batch = new Option<int>("--batch") { Description = "teacher samples per step", DefaultValueFactory = _ => 16 };
        var rate = new Option<double>("--lr") { Description = "student learning rate", DefaultValueFactory = _ => 2e-5 };
        var criticRate = new Option<double>("--critic-lr") { Description = "critic learning rate", DefaultValueFactory = _ => 4e-6 };
        var warmup = new Option<int>("--warmup") { Description = "tangent warm-up steps (DMD and the critic start after it)", DefaultValueFactory = _ => 500 };
        var guidance = new Option<double?>("--guidance") { Description = "teacher guidance distilled in (default: the teacher's own)" };
        var dmd = new Option<double>("--dmd") { Description = "weight of the DMD regulariser (0: pure sCM, no critic)", DefaultValueFactory = _ => defaults.DmdWeight };
        var tangent = new Option<string>("--tangent") { Description = "tangent method: exact (double backward) or fd (finite differences)", DefaultValueFactory = _ => "exact" };
        var topK = new Option<double?>("--top-k")
        {
            Description = "train a sparse student: SLA self-attention keeping this share of key blocks from the first step (WORK/student-rcm-sparse/transformer.safetensors; evaluate with teacher-evaluate --transformer FILE --sampler rcm)",
        };
        var (blockQ, blockK) = SlaBlockOptions();
        var from = new Option<string?>("--from")
        {
            Description = "start the student from this transformer checkpoint instead of the teacher, its attention (dense or SLA) included, e.g. WORK/student-rcm-sla/transformer.safetensors (writes WORK/student-rcm-from/transformer.safetensors)",
        };
        var command = new Command("student-rcm", "Distil the teacher with rCM (sCM + DMD) on its samples; write WORK/student-rcm/model, a few-step text-to-video folder (or, with --top-k or --from, a student's transformer).")
        {
            work, steps, studentSteps, batch, rate, criticRate, warmup, guidance, dmd, tangent, topK, blockQ, blockK, from, limit, device,
        };
        command.SetAction(parse =>
        {
            var method = parse.GetRequiredValue(tangent) switch
            {
                "exact" => TangentMethod.DoubleBackward,
                "fd" => TangentMethod.FiniteDifference,
                var other => throw new TurboException($"--tangent {other}: expected exact or fd"),
            };
            var target = TeacherCommands.Prepare(parse.GetRequiredValue(device));
            var settings = defaults with
            {
                Steps = parse.GetValue(steps), BatchSize = parse.GetValue(batch), StudentLearningRate = parse.GetValue(rate),
                CriticLearningRate = parse.GetValue(criticRate), TangentWarmup = parse.GetValue(warmup), DmdWeight = parse.GetValue(dmd),
                TeacherGuidance = parse.GetValue(guidance) ?? TeacherRecipe.Sampling.Guidance, Tangent = method,
                ConsistencyLogMean = RcmSettings.VideoLogMean(1 + (TeacherRecipe.Clips.Frames - 1) / TeacherRecipe.Vae.TemporalCompression),
                CriticShift = TeacherRecipe.Sampling.Shift, CheckpointEvery = 250, Seed = 1, TimeLimit = Minutes(parse.GetValue(limit)),
            };
            settings.Validate();
            var sparse = parse.GetValue(topK) is { } share ? SlaAttention(share, parse.GetValue(blockQ), parse.GetValue(blockK)) : null;
            var console = parse.InvocationConfiguration.Output;
            string folder = parse.GetRequiredValue(work);
            string? start = parse.GetValue(from);
            var result = StudentTraining.DistillRcm(folder, settings, parse.GetValue(studentSteps), sparse, start, target, console.WriteLine);
            console.WriteLine(Invariant($"rCM: step {result.Steps}, {string.Join(", ", result.Measures.Select(m => Invariant($"{m.Key} {m.Value:F4}")))}, {result.Seconds:F0} s over {result.Runs} run(s)"));
            console.WriteLine($"wrote {StudentTraining.RcmOutput(folder, sparse, start)}");
            return 0;
        });
        return command;
    }

    public static Command Sla()
    {
        Option<string> work = Work(), device = DeviceOption();
        var limit = TimeLimit();
        var steps = new Option<int>("--steps") { Description = "optimizer steps (in total, across resumed runs)", DefaultValueFactory = _ => 2000 };
        var batch = new Option<int>("--batch") { Description = "teacher samples per step", DefaultValueFactory = _ => 16 };
        var rate = new Option<double>("--lr") { Description = "learning rate", DefaultValueFactory = _ => 1e-4 };
        var topK = new Option<double>("--top-k") { Description = "share of key blocks each query block keeps", DefaultValueFactory = _ => 0.1 };
        var (blockQ, blockK) = SlaBlockOptions();
        var tune = new Option<string>("--tune")
        {
            Description = "teacher: the teacher to its dense self, for student-merge (WORK/student-sla); student: the rCM student to its dense self at its sampling levels (WORK/student-rcm-sla)",
            DefaultValueFactory = _ => SparsifySettings.TuneTeacher,
        };
        var command = new Command("student-sla", "Fine-tune a copy of the teacher (or of the rCM student) with sparse-linear self-attention to its dense velocity.")
        {
            work, steps, batch, rate, topK, blockQ, blockK, tune, limit, device,
        };
        command.SetAction(parse =>
        {
            string tuned = parse.GetRequiredValue(tune);
            if (!SparsifySettings.TuneChoices.Contains(tuned))
                throw new TurboException($"--tune {tuned}: expected {string.Join(" or ", SparsifySettings.TuneChoices)}");
            bool tuneStudent = tuned == SparsifySettings.TuneStudent;
            var attention = SlaAttention(parse.GetValue(topK), parse.GetValue(blockQ), parse.GetValue(blockK));
            var target = TeacherCommands.Prepare(parse.GetRequiredValue(device));
            var settings = new SlaSettings
            {
                Steps = parse.GetValue(steps), BatchSize = parse.GetValue(batch), LearningRate = parse.GetValue(rate),
                Shift = TeacherRecipe.Sampling.Shift, CheckpointEvery = 250, Seed = 1, TimeLimit = Minutes(parse.GetValue(limit)),
            };
            settings.Validate();
            var console = parse.InvocationConfiguration.Output;
            string folder = parse.GetRequiredValue(work);
            var result = StudentTraining.FineTuneSla(folder, settings, attention, tuneStudent, target, console.WriteLine);
            console.WriteLine(Invariant($"SLA: step {result.Steps}, white-box loss {result.Measures.Values.Single():E3} (mean of the last 50 steps), {result.Seconds:F0} s over {result.Runs} run(s)"));
            console.WriteLine($"wrote {(tuneStudent ? StudentTraining.TunedStudentTransformer(folder) : StudentTraining.SlaTransformer(folder))}");
            return 0;
        });
        return command;
    }

    public static Command Merge()
    {
        Option<string> work = Work(), device = DeviceOption();
        var command = new Command("student-merge", "Add the SLA fine-tune's change to the rCM student (TurboDiffusion's merge); write WORK/student/transformer.safetensors.")
        {
            work, device,
        };
        command.SetAction(parse =>
        {
            StudentTraining.Merge(parse.GetRequiredValue(work), TeacherCommands.Prepare(parse.GetRequiredValue(device)), parse.InvocationConfiguration.Output.WriteLine);
            return 0;
        });
        return command;
    }

    static (Option<int> BlockQ, Option<int> BlockK) SlaBlockOptions() =>
        (new("--block-q") { Description = "SLA query block (tokens)", DefaultValueFactory = _ => 128 },
         new("--block-k") { Description = "SLA key block (tokens)", DefaultValueFactory = _ => 64 });

    /// <summary>Trainable sparse-linear self-attention for the teacher's head size; refuses settings it cannot run.</summary>
    static AttentionConfig SlaAttention(double topK, int blockQ, int blockK)
    {
        var attention = new AttentionConfig { Kind = AttentionKind.Sla, TopK = topK, BlockQ = blockQ, BlockK = blockK };
        attention.Validate(TeacherRecipe.Transformer.HeadDim);
        return attention;
    }

    static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
