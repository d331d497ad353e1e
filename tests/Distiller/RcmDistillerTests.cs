using Turbo.Distiller.Rcm;
using Turbo.Distiller.Training;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using Turbo.Runtime.Sampling;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Distiller;

public class RcmDistillerTests
{
    /// <summary>Four fixed "teacher samples", each with its own prompt embedding.</summary>
    sealed class FixedSamples : ITrainingBatches
    {
        readonly Tensor _latents = randn([4, .. MicroWan.Latent], generator: new Generator(7));
        readonly Tensor _contexts = randn([4, 4, 8], generator: new Generator(8));

        public (Tensor Latents, Tensor Context) Batch(long step, int batchSize)
        {
            var index = (arange(batchSize) + step) % 4;
            return (_latents.index_select(0, index), _contexts.index_select(0, index));
        }
    }

    static RcmSettings Settings(int steps) => new()
    {
        Steps = steps, BatchSize = 2, StudentLearningRate = 1e-3, CriticLearningRate = 1e-3, TeacherGuidance = 3,
        TangentWarmup = 2, StudentUpdateEvery = 2, MaxSimulationSteps = 2, CheckpointEvery = 3, Seed = 9, EmaDecay = 0.9,
    };

    [Test]
    public void ResumedRunEqualsUninterruptedRun()
    {
        using var teacher = MicroWan.New(seed: 1);
        using var empty = zeros(1, 4, 8);
        using var straight = new TempFolder();
        using var resumed = new TempFolder();
        var measures = new List<IReadOnlyDictionary<string, double>>();
        RcmSettings Run(int steps) => Settings(steps) with { TangentWarmup = 1 };
        using (var student = MicroWan.Copy(teacher))
        using (var distiller = new RcmDistiller(student, teacher, empty, Run(4), straight.Path))
            distiller.Train(new FixedSamples(), p => measures.Add(p.Measures));
        using (var student = MicroWan.Copy(teacher))
        using (var distiller = new RcmDistiller(student, teacher, empty, Run(2), resumed.Path))
            distiller.Train(new FixedSamples());
        using (var student = MicroWan.Copy(teacher))
        using (var distiller = new RcmDistiller(student, teacher, empty, Run(4), resumed.Path))
        {
            Assert.That(distiller.Step, Is.EqualTo(2));
            distiller.Train(new FixedSamples());
        }

        // step 0 warm-up (sCM), 1 critic, 2 student (sCM + DMD after one simulated step), 3 critic (after one simulated step)
        Assert.That(measures.Select(m => string.Join(",", m.Keys.Order())), Is.EqualTo(new[] { "g rms,sCM", "critic", "DMD,g rms,sCM", "critic" }));
        Assert.That(measures.SelectMany(m => m.Values).All(double.IsFinite));
        foreach (string file in new[] { "model.safetensors", "ema.safetensors", "critic.model.safetensors" })
        {
            using var a = SafetensorsFile.Open(Path.Combine(TrainingState.CheckpointFolder(straight.Path), file));
            using var b = SafetensorsFile.Open(Path.Combine(TrainingState.CheckpointFolder(resumed.Path), file));
            foreach (var info in a.Tensors)
            {
                using var x = a.Read(info.Name);
                using var y = b.Read(info.Name);
                Assert.That(x.eq(y).all().item<bool>(), $"{file}: {info.Name}");
            }
        }
    }

    /// <summary>
    /// Early in the tangent warm-up (r ≈ 0) an sCM step is regression onto the guided teacher: a student that starts
    /// as another network is pulled onto it (the sCM direction g, before normalising, on fixed draws shrinks). The
    /// loss's own value, w·‖ĝ‖² with ĝ = g / (‖g‖ + 0.1), stays near w until ‖g‖ nears 0.1, so g is what is watched.
    /// </summary>
    [Test]
    public void WarmupStepsPullTheStudentOntoTheGuidedTeacher()
    {
        using var teacher = MicroWan.New(seed: 1);
        using var student = MicroWan.New(seed: 2);
        using var empty = zeros(1, 4, 8);
        using var dir = new TempFolder();
        var data = new FixedSamples();
        var settings = Settings(10) with { DmdWeight = 0, TangentWarmup = 1000, StudentLearningRate = 3e-3, CheckpointEvery = 10, BatchSize = 4 };
        double before = Residual(student, teacher, empty, data, settings.TeacherGuidance);
        using (var distiller = new RcmDistiller(student, teacher, empty, settings, dir.Path))
            distiller.Train(data);
        double after = Residual(student, teacher, empty, data, settings.TeacherGuidance);
        TestContext.Out.WriteLine($"sCM direction (g rms at r = 0) on fixed draws: {before:F4} → {after:F4}");
        Assert.That(after, Is.LessThan(0.7 * before));
    }

    static double Residual(WanModel student, WanModel teacher, Tensor empty, ITrainingBatches data, double guidance)
    {
        using var scope = NewDisposeScope();
        var g = new Generator(99);
        var (x0, context) = data.Batch(0, 4);
        var t = tensor(new float[] { 0.2f, 0.7f, 1.1f, 1.5f });
        var xt = TrigFlow.Noised(x0, randn(x0.shape, generator: g), t);
        Tensor teacherF;
        using (no_grad()) teacherF = TrigFlowModel.Of(teacher).GuidedF(xt, t, context, empty.expand(4, -1, -1), guidance);
        var f = TrigFlowModel.Of(student);
        using var terms = ScmObjective.Compute((x, time) => f.F(x, time, context), xt, t, teacherF, 0, 1, TangentMethod.DoubleBackward);
        return terms.DirectionRms;
    }

    /// <summary>After the warm-up, a critic trained on the student's samples denoises them better than the teacher copy it starts as.</summary>
    [Test]
    public void TheCriticLearnsToDenoiseTheStudentsSamples()
    {
        using var teacher = MicroWan.New(seed: 1);
        using var student = MicroWan.Copy(teacher);
        using var empty = zeros(1, 4, 8);
        using var dir = new TempFolder();
        // step 0: the student (sCM + DMD, a tiny learning rate: its samples stay put); steps 1–15: the critic
        var settings = Settings(16) with
        {
            TangentWarmup = 0, StudentUpdateEvery = 1000, StudentLearningRate = 1e-9, CriticLearningRate = 3e-3, BatchSize = 8, CheckpointEvery = 16,
        };
        var criticLosses = new List<double>();
        double before = CriticError(student, teacher, empty);
        using (var distiller = new RcmDistiller(student, teacher, empty, settings, dir.Path))
            distiller.Train(new FixedSamples(), p => { if (p.Measures.TryGetValue("critic", out double c)) criticLosses.Add(c); });
        using var critic = new WanModel(MicroWan.Config);
        using (var stored = SafetensorsFile.Open(Path.Combine(TrainingState.CheckpointFolder(dir.Path), "critic.model.safetensors")))
            critic.LoadWeights(n => stored.Contains(n) ? stored.Info(n).Shape : null, stored.Read, stored.Path);
        double after = CriticError(student, critic, empty);
        TestContext.Out.WriteLine($"critic denoising loss on fixed student samples: {before:F4} → {after:F4}");
        Assert.That(criticLosses, Has.Count.EqualTo(15).And.All.Matches<double>(double.IsFinite));
        Assert.That(after, Is.LessThan(0.95 * before)); // measured 104.1 → 93.0
    }

    /// <summary>The critic loss on 64 one-step student samples of fixed noise and prompts, noised to fixed draws of p_D.</summary>
    static double CriticError(WanModel student, WanModel critic, Tensor empty)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var g = new Generator(123);
        var (_, context) = new FixedSamples().Batch(0, 64);
        var top = full([64], TrigFlow.MaxTime);
        var generated = TrigFlowModel.Of(student).X0(randn([64, .. MicroWan.Latent], generator: g), top, context);
        var t = RcmTimes.Shifted(64, 5, g, ScalarType.Float32, CPU);
        var fake = TrigFlowModel.Of(critic).X0(TrigFlow.Noised(generated, randn(generated.shape, generator: g), t), t, context);
        return DmdObjective.CriticLoss(generated, fake, t, 1).item<float>();
    }

    [Test]
    public void StudentAndCriticTakeTurnsAfterTheWarmup()
    {
        using var teacher = MicroWan.New(seed: 1);
        using var student = MicroWan.Copy(teacher);
        using var empty = zeros(1, 4, 8);
        using var dir = new TempFolder();
        using var distiller = new RcmDistiller(student, teacher, empty, Settings(10) with { TangentWarmup = 3, StudentUpdateEvery = 4 }, dir.Path);
        Assert.That(Enumerable.Range(0, 10).Where(s => distiller.IsStudentStep(s)), Is.EqualTo(new[] { 0, 1, 2, 4, 8 }));
        using var otherDir = new TempFolder();
        using var pure = new RcmDistiller(student, teacher, empty, Settings(10) with { DmdWeight = 0 }, otherDir.Path);
        Assert.That(Enumerable.Range(0, 10).All(s => pure.IsStudentStep(s)), "without DMD every step is the student's");
    }

    [Test]
    public void OneStepOutsideTheLoopTakesTheNextKindOfStepAndWritesNoCheckpoint()
    {
        using var teacher = MicroWan.New(seed: 1);
        using var student = MicroWan.Copy(teacher);
        using var empty = zeros(1, 4, 8);
        using var dir = new TempFolder();
        var settings = Settings(10) with { TangentWarmup = 0, StudentUpdateEvery = 2 };
        using var distiller = new RcmDistiller(student, teacher, empty, settings, dir.Path);
        var kinds = Enumerable.Range(0, 3).Select(_ => string.Join(",", distiller.TrainOneStep(new FixedSamples()).Measures!.Keys.Order())).ToList();
        Assert.That(kinds, Is.EqualTo(new[] { "DMD,g rms,sCM", "critic", "DMD,g rms,sCM" }));
        Assert.That(distiller.Step, Is.EqualTo(3));
        Assert.That(Directory.EnumerateFileSystemEntries(dir.Path), Is.Empty, "no checkpoint");
    }

    [Test]
    public void BadSettingsOrModelsAreRefusedBeforeTraining()
    {
        using var teacher = MicroWan.New(seed: 1);
        using var student = MicroWan.Copy(teacher);
        using var empty = zeros(1, 4, 8);
        using var dir = new TempFolder();
        Assert.That(Assert.Throws<TurboException>(() => new RcmDistiller(teacher, teacher, empty, Settings(4), dir.Path))!.Message,
            Does.Contain("not the teacher"));
        using var wrongEmpty = zeros(1, 4, 9);
        Assert.That(Assert.Throws<TurboException>(() => new RcmDistiller(student, teacher, wrongEmpty, Settings(4), dir.Path))!.Message,
            Does.Contain("empty prompt"));
        Assert.That(Assert.Throws<TurboException>(() => new RcmDistiller(student, teacher, empty, Settings(4) with { TeacherGuidance = 0.5 }, dir.Path))!.Message,
            Does.Contain("guidance"));
        Assert.That(Assert.Throws<TurboException>(() => new RcmDistiller(student, teacher, empty, Settings(4) with { StudentUpdateEvery = 0 }, dir.Path))!.Message,
            Does.StartWith("rCM settings"));
        Assert.That(Directory.Exists(TrainingState.CheckpointFolder(dir.Path)), Is.False, "nothing trained or written");
    }
}
