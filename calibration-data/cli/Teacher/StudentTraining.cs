using System.Diagnostics;
using Turbo.CalibrationData.Shapes;
using Turbo.Converter.Pipelines;
using Turbo.Distiller.Data;
using Turbo.Distiller.Merge;
using Turbo.Distiller.Rcm;
using Turbo.Distiller.Sla;
using Turbo.Distiller.Training;
using Turbo.Runtime;
using Turbo.Runtime.Attention;
using Turbo.Runtime.Models;
using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.CalibrationData.Teacher;

/// <summary>
/// TurboDiffusion's recipe on the bundled teacher, stage by stage in one work folder (the teacher's): its own samples
/// as training data, rCM distillation to a few-step student, the SLA fine-tune of the teacher, and their merge (or the
/// SLA fine-tune of the student itself).
/// <code>
///   WORK/model/              the teacher (diffusers layout)
///   WORK/teacher-samples/    its 50-step CFG samples of training-split captions, with their embeddings
///   WORK/student-rcm/model/  the rCM student (diffusers layout, rCM sampler): usable by turbo generate, teacher-evaluate
///   WORK/student-sla/        the SLA-tuned teacher: transformer.safetensors (canonical names, attention in its metadata)
///   WORK/student/            the merge: transformer.safetensors (SLA self-attention, rCM sampling)
///   WORK/student-rcm-sla/    the alternative: the rCM student itself SLA-tuned to its dense self (rCM sampling)
///   WORK/student-rcm-sparse/ the third way: rCM with SLA in the student from its first step (rCM sampling)
///   WORK/student-rcm-from/   rCM continued from a transformer checkpoint, e.g. the SLA-tuned student (rCM sampling)
/// </code>
/// Each training stage resumes from its own checkpoint folder (rcm-training/, sla-training/, rcm-sla-training/,
/// rcm-sparse-training/, rcm-from-training/).
/// </summary>
public static class StudentTraining
{
    public static string SamplesFolder(string work) => Path.Combine(work, "teacher-samples");
    public static string RcmModel(string work) => Path.Combine(work, "student-rcm", "model");
    public static string SlaTransformer(string work) => Path.Combine(work, "student-sla", TransformerCheckpoint.FileName);
    public static string MergedTransformer(string work) => Path.Combine(work, "student", TransformerCheckpoint.FileName);
    public static string TunedStudentTransformer(string work) => Path.Combine(work, "student-rcm-sla", TransformerCheckpoint.FileName);
    public static string SparseRcmTransformer(string work) => Path.Combine(work, "student-rcm-sparse", TransformerCheckpoint.FileName);
    public static string ContinuedRcmTransformer(string work) => Path.Combine(work, "student-rcm-from", TransformerCheckpoint.FileName);

    /// <summary>Where <see cref="DistillRcm"/> writes its student for these starting points.</summary>
    public static string RcmOutput(string work, AttentionConfig? sparse, string? from) =>
        from is not null ? ContinuedRcmTransformer(work) : sparse is not null ? SparseRcmTransformer(work) : RcmModel(work);

    /// <summary>The teacher's own samples (its sampler, its guidance) for the first <paramref name="count"/> training-split captions.</summary>
    public static int SampleTeacher(string work, int count, TeacherSampleSettings settings, Device device, Action<string> log)
    {
        using var pipeline = WanTextToVideo.Load(TeacherTraining.ModelFolder(work), device, ScalarType.Float32);
        var dataset = new ShapesDataset(TeacherTraining.DataSeed, TeacherRecipe.Clips);
        var prompts = Enumerable.Range(0, count).Select(i => dataset.Prompt(ShapesSplit.Train, i).Caption).ToArray();
        var clock = Stopwatch.StartNew();
        var every = Stopwatch.StartNew();
        using var samples = TeacherSampleStage.Run(new PipelineTeacherSampler(pipeline, pipeline.Defaults), prompts, settings, SamplesFolder(work),
            (done, all) =>
            {
                if (every.Elapsed.TotalSeconds < 15 && done != all) return;
                every.Restart();
                log($"teacher samples: {done}/{all} ({clock.Elapsed.TotalSeconds:F0} s)");
            });
        return samples.Count;
    }

    /// <summary>
    /// rCM distillation of the teacher. The student starts as a copy of the teacher; with <paramref name="sparse"/>
    /// (kind Sla) its self-attention is sparse-linear from the first step (proj_l at zero), so that sCM and DMD train
    /// the sparse student against the dense teacher directly, with no separate SLA fine-tune; with
    /// <paramref name="from"/> it starts from that transformer checkpoint instead (its weights and its attention, dense
    /// or Sla), e.g. an SLA-tuned student whose distribution DMD is to pull towards the teacher's.
    /// </summary>
    /// <param name="studentSteps">the sampling steps the student's folder records (1–4)</param>
    /// <returns>the run's record; the student is at <see cref="RcmModel"/> (from the dense teacher),
    /// <see cref="SparseRcmTransformer"/> or <see cref="ContinuedRcmTransformer"/></returns>
    public static TrainingRecord DistillRcm(string work, RcmSettings settings, int studentSteps, AttentionConfig? sparse, string? from,
        Device device, Action<string> log)
    {
        if (sparse is not null && from is not null)
            throw new TurboException("rCM: the student starts from the teacher (SLA with --top-k) or from a checkpoint (--from), not both");
        var clock = Stopwatch.StartNew();
        RcmSchedule.TrigFlowTimes(studentSteps); // refuses a step count the sampler cannot take, before any training
        string teacherFolder = TeacherTraining.ModelFolder(work);
        using var pipeline = WanTextToVideo.Load(teacherFolder, device, ScalarType.Float32);
        using var samples = TeacherSamples.Open(SamplesFolder(work), settings.Seed);
        using var student = from is not null ? TrainableCheckpoint(from, pipeline.Transformer.Config, device)
            : sparse is not null ? SlaFineTuner.SparseCopy(pipeline.Transformer, sparse)
            : RcmDistiller.CopyOf(pipeline.Transformer);
        string? variant = from is not null ? "from" : sparse is not null ? "sparse" : null;
        string written = RcmOutput(work, sparse, from), output = variant is null ? written : Path.GetDirectoryName(written)!;
        TrainingSummary summary;
        long reached;
        using (var distiller = new RcmDistiller(student, pipeline.Transformer, samples.EmptyContext, settings,
                   Path.Combine(work, variant is null ? "rcm-training" : $"rcm-{variant}-training")))
        {
            if (distiller.Step > 0) log($"rCM: resuming at step {distiller.Step}");
            summary = distiller.Train(samples, TeacherTraining.Progress("rCM", log));
            reached = distiller.Step;
            var ema = distiller.EmaWeights();
            try
            {
                var sampling = pipeline.Defaults with { Solver = FlowSolvers.Rcm, Steps = studentSteps, Guidance = 1, Times = null };
                if (variant is null) StudentFolder.Write(teacherFolder, output, sampling, student.Config, ema);
                else TransformerCheckpoint.Write(written, student.Config.Attention, ema);
            }
            finally { foreach (var t in ema.Values) t.Dispose(); }
        }
        var measures = summary.Measures.ToDictionary(kv => $"{kv.Key} (last 50)", kv => kv.Value);
        return TrainingRecord.Save(output, new TrainingRecord("rcm", reached, settings.BatchSize, settings.StudentLearningRate,
            device.ToString(), clock.Elapsed.TotalSeconds, 1, student.parameters().Sum(p => p.numel()), measures));
    }

    /// <summary>A transformer checkpoint of the teacher's architecture that training can run through (dense or Sla attention).</summary>
    static WanModel TrainableCheckpoint(string path, WanConfig teacher, Device device)
    {
        var model = TransformerCheckpoint.Load(path, teacher with { Attention = AttentionConfig.Dense }, device);
        if (model.Config.Attention.Kind is AttentionKind.Dense or AttentionKind.Sla) return model;
        var kind = model.Config.Attention.Kind;
        model.Dispose();
        throw new TurboException($"{path}: its self-attention is {kind}, which is forward-only; rCM trains dense or Sla attention");
    }

    /// <summary>
    /// The SLA fine-tune: of the teacher to the dense teacher (TurboDiffusion's way, merged into the student after), or
    /// with <paramref name="tuneStudent"/> of the rCM student to its dense self, at its own sampling levels.
    /// </summary>
    public static TrainingRecord FineTuneSla(string work, SlaSettings settings, AttentionConfig attention, bool tuneStudent, Device device, Action<string> log)
    {
        var clock = Stopwatch.StartNew();
        using var pipeline = WanTextToVideo.Load(tuneStudent ? RcmModel(work) : TeacherTraining.ModelFolder(work), device, ScalarType.Float32);
        if (tuneStudent) settings = settings with { NoiseLevels = pipeline.Defaults.Schedule.ModelSigmas };
        using var samples = TeacherSamples.Open(SamplesFolder(work), settings.Seed);
        using var model = SlaFineTuner.SparseCopy(pipeline.Transformer, attention);
        string output = tuneStudent ? TunedStudentTransformer(work) : SlaTransformer(work);
        TrainingSummary summary;
        long reached;
        using (var tuner = new SlaFineTuner(model, pipeline.Transformer, settings, Path.Combine(work, tuneStudent ? "rcm-sla-training" : "sla-training")))
        {
            if (tuner.Step > 0) log($"SLA: resuming at step {tuner.Step}");
            summary = tuner.Train(samples, TeacherTraining.Progress("SLA", log));
            reached = tuner.Step;
            var ema = tuner.EmaWeights();
            try { TransformerCheckpoint.Write(output, model.Config.Attention, ema); }
            finally { foreach (var t in ema.Values) t.Dispose(); }
        }
        return TrainingRecord.Save(Path.GetDirectoryName(output)!, new TrainingRecord("sla", reached, settings.BatchSize,
            settings.LearningRate, device.ToString(), clock.Elapsed.TotalSeconds, 1, model.parameters().Sum(p => p.numel()),
            new Dictionary<string, double> { ["white-box loss (last 50)"] = summary.Loss }));
    }

    /// <summary>The rCM student plus the SLA fine-tune's change: TurboDiffusion's final model (before quantization).</summary>
    public static void Merge(string work, Device device, Action<string> log)
    {
        using var teacher = WanTextToVideo.Load(TeacherTraining.ModelFolder(work), device, ScalarType.Float32);
        using var student = WanTextToVideo.Load(RcmModel(work), device, ScalarType.Float32);
        var (attention, tuned) = TransformerCheckpoint.Read(SlaTransformer(work));
        try
        {
            var merged = StudentMerge.Merge(Weights(student.Transformer), Weights(teacher.Transformer), tuned);
            try { TransformerCheckpoint.Write(MergedTransformer(work), attention, merged); }
            finally { foreach (var t in merged.Values) t.Dispose(); }
        }
        finally { foreach (var t in tuned.Values) t.Dispose(); }
        log($"merged: {MergedTransformer(work)} ({attention.Kind} top-k {attention.TopK}; sample it with the rCM sampler)");
    }

    static Dictionary<string, Tensor> Weights(WanModel model) => model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
}
