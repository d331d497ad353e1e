using TorchSharp;
using Turbo.Distiller.Training;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Runtime.Native;
using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Distiller.Rcm;

/// <summary>
/// rCM step distillation (NVlabs/rcm, as TurboDiffusion trains Wan2.1): a student, usually starting as a copy of the
/// teacher, learns to sample in 1–4 steps without guidance from the sCM objective (<see cref="ScmObjective"/>: x_t
/// from the teacher's own samples, the guided teacher's F as the trajectory) and, after the tangent warm-up, the DMD
/// regulariser (<see cref="DmdObjective"/>) against a critic that starts as a copy of the teacher. After the warm-up
/// the student is updated at every <see cref="RcmSettings.StudentUpdateEvery"/>-th step and the critic at the others.
/// Resumable like every trainer here (<see cref="TrainingState"/>, parts "" = the student with its EMA, "critic"):
/// every step's randomness follows from (seed, step), so a resumed run is the run that was interrupted.
/// </summary>
public sealed class RcmDistiller : IDisposable
{
    public const string CriticPart = "critic";

    readonly WanModel _student, _teacher;
    readonly WanModel? _critic;
    readonly Tensor _emptyContext;
    readonly RcmSettings _settings;
    readonly TrainingState _state;

    public long Step => _state.Step;

    /// <param name="student">the network trained (its weights usually the teacher's to begin with)</param>
    /// <param name="teacher">the frozen teacher, sampled with <see cref="RcmSettings.TeacherGuidance"/></param>
    /// <param name="emptyContext">the empty prompt's embedding [1, L, TextDim], the teacher's unconditional input</param>
    public RcmDistiller(WanModel student, WanModel teacher, Tensor emptyContext, RcmSettings settings, string workDir)
    {
        settings.Validate();
        if (ReferenceEquals(student, teacher))
            throw new TurboException("rCM: the student must be its own model, not the teacher (start it from a copy of the teacher's weights)");
        var (s, t) = (student.Config, teacher.Config);
        if (s.InDim != t.InDim || s.OutDim != t.OutDim || s.TextDim != t.TextDim || s.PatchSize.SequenceEqual(t.PatchSize) is false)
            throw new TurboException($"rCM: the student (in {s.InDim}, out {s.OutDim}, text {s.TextDim}) and the teacher (in {t.InDim}, out {t.OutDim}, text {t.TextDim}) must take the same latents and prompts");
        if (emptyContext.dim() != 3 || emptyContext.shape[0] != 1 || emptyContext.shape[2] != t.TextDim)
            throw new TurboException($"rCM: the empty prompt's embedding must be [1, L, {t.TextDim}], found [{string.Join(", ", emptyContext.shape)}]");
        _student = student;
        _teacher = teacher;
        _emptyContext = emptyContext;
        _settings = settings;

        var parts = new List<TrainedPart>
        {
            new("", student, optim.AdamW(student.parameters(), settings.StudentLearningRate, 0.0, 0.999, weight_decay: settings.WeightDecay),
                student.LoadWeights, settings.EmaDecay),
        };
        if (settings.TrainsCritic)
        {
            _critic = CopyOf(teacher);
            parts.Add(new(CriticPart, _critic,
                optim.AdamW(_critic.parameters(), settings.CriticLearningRate, 0.0, 0.999, weight_decay: settings.WeightDecay),
                _critic.LoadWeights, EmaDecay: null));
        }
        _state = new TrainingState(parts, workDir);
        _state.TryResume();
    }

    /// <summary>Runs until <see cref="RcmSettings.Steps"/> (or the time limit); returns the means of the last 50 steps.</summary>
    /// <remarks>Measures: "sCM" (loss), "g rms" (size of the sCM direction before normalising), "DMD", "critic".</remarks>
    public TrainingSummary Train(ITrainingBatches data, Action<TrainingProgress>? progress = null)
    {
        SetModes();
        return TrainingLoop.Run(_state, new LearningRateSchedule(_settings.Steps), _settings.CheckpointEvery, _settings.TimeLimit, _settings,
            () => TrainStep(data), progress);
    }

    /// <summary>
    /// The next step as <see cref="Train"/> takes it, but outside the training loop: no checkpoint (the loop always
    /// writes one at its last step, gigabytes for a real model), no progress, the base learning rates. For timing
    /// iterations; the step counter advances, so the step kinds alternate as in training. A caller timing a series
    /// of steps holds a <see cref="CollectionPause"/> around them, as the loop does (else each step starts one, and
    /// with it a collection).
    /// </summary>
    public StepResult TrainOneStep(ITrainingBatches data)
    {
        SetModes();
        using var pause = CollectionPause.Begin();
        var result = TrainStep(data);
        _state.Step++;
        return result;
    }

    void SetModes()
    {
        _student.train();
        _critic?.train();
        _teacher.eval();
    }

    /// <summary>The student's EMA weights (what ships), CPU float32 copies the caller disposes.</summary>
    public Dictionary<string, Tensor> EmaWeights() => _state.EmaWeights();

    /// <summary>Whether step <paramref name="step"/> updates the student (else the critic).</summary>
    public bool IsStudentStep(long step) => _settings.IsStudentStep(step);

    /// <summary>Student steps taken before step <paramref name="step"/>.</summary>
    long StudentStepsBefore(long step)
    {
        long warmup = _settings.TangentWarmup, every = _settings.StudentUpdateEvery;
        if (!_settings.TrainsCritic || step <= warmup) return step;
        static long CeilDiv(long a, long b) => (a + b - 1) / b;
        return warmup + CeilDiv(step, every) - CeilDiv(warmup, every);
    }

    StepResult TrainStep(ITrainingBatches data)
    {
        using var scope = NewDisposeScope();
        long step = Step;
        using var generator = new Generator((ulong)(_settings.Seed * 1_000_003 + step));
        var (latents, context) = data.Batch(step, _settings.BatchSize);
        var device = _student.Device;
        var x0 = latents.to(ScalarType.Float32, device);
        context = context.to(device);
        var negative = _emptyContext.to(device).expand(x0.shape[0], -1, -1);
        var batch = new Batch(x0, context, negative, generator);

        long studentSteps = StudentStepsBefore(step);
        var result = IsStudentStep(step)
            ? StudentStep(batch, step, (int)(studentSteps % _settings.MaxSimulationSteps))
            : CriticStep(batch, (int)((step - studentSteps) % _settings.MaxSimulationSteps));
        if (!double.IsFinite(result.Loss))
            throw new TurboException($"rCM: the loss became {result.Loss} at step {step}; the last checkpoint is intact (try a lower learning rate)");
        return result;
    }

    sealed record Batch(Tensor X0, Tensor Context, Tensor Negative, Generator Generator)
    {
        public Tensor Noise() => randn(X0.shape, generator: Generator).to(X0.device);
    }

    StepResult StudentStep(Batch b, long step, int simulationSteps)
    {
        var student = TrigFlowModel.Of(_student);
        var teacher = TrigFlowModel.Of(_teacher);
        long batch = b.X0.shape[0];
        var t = RcmTimes.Consistency(batch, _settings.ConsistencyLogMean, _settings.ConsistencyLogStd, b.Generator, ScalarType.Float32, b.X0.device);
        var xt = TrigFlow.Noised(b.X0, b.Noise(), t);
        Tensor teacherF;
        using (no_grad())
            teacherF = teacher.GuidedF(xt, t, b.Context, b.Negative, _settings.TeacherGuidance);
        double warmup = _settings.TangentWarmup == 0 ? 1 : Math.Min(1.0, (double)step / _settings.TangentWarmup);

        var scm = ScmObjective.Compute((x, time) => student.F(x, time, b.Context), xt, t, teacherF, warmup,
            _settings.ScmWeight, _settings.Tangent, _settings.FiniteDifferenceStep);
        var measures = new Dictionary<string, double> { ["sCM"] = Value(scm.Loss), ["g rms"] = scm.DirectionRms };
        var loss = scm.Loss;
        if (_critic is not null && step >= _settings.TangentWarmup)
        {
            var (gxt, gt) = Simulate(b, simulationSteps);
            var generated = student.X0(gxt, gt, b.Context);
            var (fakeX0, teacherX0) = CriticAndTeacher(b, generated);
            var dmd = DmdObjective.GeneratorLoss(generated, fakeX0, teacherX0, _settings.DmdWeight);
            measures["DMD"] = Value(dmd);
            loss = loss + dmd;
        }
        Update("", _student, loss);
        _state.UpdateEma("");
        return new StepResult(Value(loss), measures);
    }

    StepResult CriticStep(Batch b, int simulationSteps)
    {
        var critic = TrigFlowModel.Of(_critic!);
        var (gxt, gt) = Simulate(b, simulationSteps);
        Tensor generated;
        using (no_grad())
            generated = TrigFlowModel.Of(_student).X0(gxt, gt, b.Context);
        var t = CriticTime(b);
        var fakeX0 = critic.X0(TrigFlow.Noised(generated, b.Noise(), t), t, b.Context);
        var loss = DmdObjective.CriticLoss(generated, fakeX0, t, _settings.CriticWeight);
        Update(CriticPart, _critic!, loss);
        double value = Value(loss);
        return new StepResult(value, new Dictionary<string, double> { ["critic"] = value });
    }

    /// <summary>The student's samples noised to a critic time, denoised by the critic and by the guided teacher (no gradient).</summary>
    (Tensor Fake, Tensor Teacher) CriticAndTeacher(Batch b, Tensor generated)
    {
        using var noGrad = no_grad();
        var t = CriticTime(b);
        var noised = TrigFlow.Noised(generated.detach(), b.Noise(), t);
        return (TrigFlowModel.Of(_critic!).X0(noised, t, b.Context),
                TrigFlowModel.Of(_teacher).GuidedX0(noised, t, b.Context, b.Negative, _settings.TeacherGuidance));
    }

    (Tensor Xt, Tensor T) Simulate(Batch b, int steps)
    {
        var student = TrigFlowModel.Of(_student);
        return DmdObjective.Simulate((x, time) => student.X0(x, time, b.Context), b.X0.shape, steps,
            () => CriticTime(b), b.Noise, ScalarType.Float32, b.X0.device);
    }

    Tensor CriticTime(Batch b) => RcmTimes.Shifted(b.X0.shape[0], _settings.CriticShift, b.Generator, ScalarType.Float32, b.X0.device);

    static double Value(Tensor scalar) => scalar.to(ScalarType.Float64).item<double>();

    void Update(string part, WanModel model, Tensor loss)
    {
        var optimizer = _state.OptimizerOf(part);
        optimizer.zero_grad();
        loss.backward();
        if (_settings.GradientClip is { } clip) nn.utils.clip_grad_norm_(model.parameters(), clip);
        optimizer.step();
    }

    /// <summary>A new model of <paramref name="source"/>'s architecture, dtype and device holding its weights.</summary>
    public static WanModel CopyOf(WanModel source)
    {
        var copy = new WanModel(source.Config, source.ComputeDtype, source.Device);
        try
        {
            copy.LoadWeights(source.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter), "the teacher");
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _state.Dispose();
        _critic?.Dispose();
    }
}
