using System.Diagnostics;
using TorchSharp;
using Turbo.Distiller.Rcm;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Converter.Running;

/// <summary>What to time: the clip, the batch, the tangent, and the steps of each kind to skip, then to measure.</summary>
public sealed record RcmBenchSettings(VideoSize Size, int Batch, TangentMethod Tangent, int Warmup, int Iterations)
{
    public void Validate()
    {
        if (Batch < 1) throw new TurboException($"--batch {Batch}: expected at least 1 clip");
        if (Warmup < 0) throw new TurboException($"--warmup {Warmup}: expected 0 or more steps of each kind");
        if (Iterations < 1) throw new TurboException($"--iterations {Iterations}: expected at least 1 measured step of each kind");
    }
}

/// <summary>
/// Times rCM training iterations of a teacher at a clip size: a student and a critic copied from the teacher, every
/// part of an iteration switched on (the tangent from the first step, DMD with its critic and backward simulation,
/// the student updated every 5th step as rCM does for Wan2.1-1.3B), random teacher samples of the clip's latent
/// shape. Steps run until each kind (student, critic) has had its warm-up and its measured steps; the critic's come
/// four to one student step, so more of them are measured. Training state goes to a temporary folder, deleted after.
/// A step that runs out of memory ends the run with an <see cref="OutOfMemoryFailure"/> instead of an exception.
/// </summary>
public sealed class RcmIterationBench
{
    public const string StudentKind = "student", CriticKind = "critic";

    readonly RcmBenchSettings _settings;

    /// <summary>The distiller's settings: rCM's Wan2.1-1.3B recipe without the tangent warm-up.</summary>
    public RcmSettings Rcm { get; }

    /// <summary>For each step to run, whether it updates the student (else the critic).</summary>
    public IReadOnlyList<bool> Plan { get; }

    public RcmIterationBench(RcmBenchSettings settings)
    {
        settings.Validate();
        _settings = settings;
        Rcm = new RcmSettings { BatchSize = settings.Batch, TangentWarmup = 0, Tangent = settings.Tangent };
        Plan = PlanSteps(Rcm, settings.Warmup + settings.Iterations);
    }

    static List<bool> PlanSteps(RcmSettings rcm, int stepsOfEachKind)
    {
        var plan = new List<bool>();
        int students = 0, critics = 0;
        while (students < stepsOfEachKind || critics < stepsOfEachKind)
        {
            bool student = rcm.IsStudentStep(plan.Count);
            plan.Add(student);
            if (student) students++;
            else critics++;
        }
        return plan;
    }

    /// <param name="checkpoint">how the result names the checkpoint</param>
    /// <param name="memory">made before the teacher was loaded (its baseline)</param>
    /// <param name="stepDone">called after every step</param>
    public RcmBenchResult Run(string checkpoint, WanModel teacher, MemoryProbe memory, Action? stepDone = null)
    {
        var config = teacher.Config;
        var latent = _settings.Size.LatentShape(config.InDim, _settings.Batch);
        long tokens = latent[2] / config.PatchSize[0] * (latent[3] / config.PatchSize[1]) * (latent[4] / config.PatchSize[2]);
        var steps = new List<StepTiming>();
        string where = "while making the student and the critic (copies of the teacher)";
        OutOfMemoryFailure? failure = null;
        var workDir = Directory.CreateTempSubdirectory("turbo-distill-bench-");
        try
        {
            using var student = RcmDistiller.CopyOf(teacher);
            using var emptyContext = randn(1, config.TextLen, config.TextDim);
            using var distiller = new RcmDistiller(student, teacher, emptyContext, Rcm, workDir.FullName);
            var batches = new RandomTrainingBatches(latent[1..], [config.TextLen, config.TextDim]);
            var seen = new Dictionary<string, int> { [StudentKind] = 0, [CriticKind] = 0 };
            using var pause = CollectionPause.Begin();
            foreach (bool isStudent in Plan)
            {
                string kind = isStudent ? StudentKind : CriticKind;
                where = $"at step {distiller.Step} ({kind})";
                double ms = TimeStep(() => distiller.TrainOneStep(batches), teacher.Device);
                steps.Add(new StepTiming(distiller.Step - 1, kind, ms, memory.Sample(), seen[kind]++ >= _settings.Warmup));
                pause.Checkpoint();
                stepDone?.Invoke();
            }
        }
        catch (Exception e) when (OutOfMemory.Is(e))
        {
            failure = new OutOfMemoryFailure(where, OutOfMemory.FirstLine(e));
        }
        finally
        {
            workDir.Delete(recursive: true);
        }

        var size = _settings.Size;
        return new RcmBenchResult(checkpoint, teacher.Device.ToString(), teacher.ComputeDtype.ToString(), DateTimeOffset.UtcNow,
            config.NumLayers, config.Dim, teacher.parameters().Sum(p => p.numel()),
            size.Name, size.Width, size.Height, size.Frames, _settings.Batch, latent, tokens, config.TextLen,
            TangentName(_settings.Tangent), _settings.Warmup, _settings.Iterations,
            new BenchedRcmSettings(Rcm.TangentWarmup, Rcm.DmdWeight, Rcm.StudentUpdateEvery, Rcm.MaxSimulationSteps, Rcm.TeacherGuidance,
                Rcm.Tangent == TangentMethod.FiniteDifference ? Rcm.FiniteDifferenceStep : null),
            Summarize(StudentKind, steps), Summarize(CriticKind, steps),
            new BenchMemory(memory.Source, memory.Baseline, steps.Max(s => s.MemoryBytes), memory.Capacity),
            steps, failure);
    }

    /// <summary>The option value naming a tangent method.</summary>
    public static string TangentName(TangentMethod method) => method == TangentMethod.DoubleBackward ? "exact" : "fd";

    /// <summary>Wall time of one step, the device drained before and after so the step's queued kernels count.</summary>
    static double TimeStep(Action step, Device device)
    {
        Synchronize(device);
        var clock = Stopwatch.StartNew();
        step();
        Synchronize(device);
        return clock.Elapsed.TotalMilliseconds;
    }

    static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }

    static KindTiming Summarize(string kind, List<StepTiming> steps)
    {
        var ms = steps.Where(s => s.Kind == kind && s.Measured).Select(s => s.Ms).Order().ToList();
        if (ms.Count == 0) return new KindTiming(kind, 0, null, null, null);
        int n = ms.Count;
        double median = n % 2 == 1 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
        return new KindTiming(kind, n, median, ms[0], ms[^1]);
    }
}
