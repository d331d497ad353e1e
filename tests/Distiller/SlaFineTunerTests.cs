using Turbo.Distiller.Sla;
using Turbo.Distiller.Training;
using Turbo.Runtime;
using Turbo.Runtime.Attention;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Distiller;

public class SlaFineTunerTests
{
    /// <summary>Latents [B, 4, 2, 8, 8]: 32 tokens, two key blocks of 16 for SLA to choose from.</summary>
    static readonly long[] Latent = [4, 2, 8, 8];

    static AttentionConfig Sla(double topK) => new() { Kind = AttentionKind.Sla, TopK = topK, BlockQ = 16, BlockK = 16 };

    sealed class FixedSamples : ITrainingBatches
    {
        readonly Tensor _latents = randn([4, .. Latent], generator: new Generator(7));
        readonly Tensor _contexts = randn([4, 4, 8], generator: new Generator(8));

        public (Tensor Latents, Tensor Context) Batch(long step, int batchSize)
        {
            var index = (arange(batchSize) + step) % 4;
            return (_latents.index_select(0, index), _contexts.index_select(0, index));
        }
    }

    static SlaSettings Settings(int steps) => new() { Steps = steps, BatchSize = 2, LearningRate = 1e-3, CheckpointEvery = 2, Seed = 4, EmaDecay = 0.9 };

    [Test]
    public void ASparseCopyThatKeepsEveryBlockIsTheTeacher()
    {
        using var teacher = MicroWan.New(seed: 1);
        using var copy = SlaFineTuner.SparseCopy(teacher, Sla(topK: 1));
        Assert.That(copy.named_parameters().Count(p => p.name.EndsWith("proj_l.weight")), Is.EqualTo(MicroWan.Config.NumLayers));
        Assert.That(copy.named_parameters().Where(p => p.name.Contains("proj_l")).All(p => p.parameter.abs().sum().item<float>() == 0),
            "proj_l starts at zero");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = randn([2, .. Latent], generator: new Generator(2));
        var context = randn([2, 4, 8], generator: new Generator(3));
        var t = tensor(new float[] { 300, 800 });
        Assert.That(RelativeError.Of(copy.Forward(x, t, context), teacher.Forward(x, t, context)), Is.LessThan(1e-5));
    }

    /// <summary>
    /// The teacher's attention is sharpened (its q/k norm gains ×3) so that dropping half the key blocks matters;
    /// a dozen steps close part of the gap (measured 8.0e-3 → 6.5e-3; it flattens near 6.4e-3 over 30 steps).
    /// </summary>
    [Test]
    public void FineTuningPullsTheSparseModelTowardsTheDenseTeacher()
    {
        using var teacher = MicroWan.New(seed: 1);
        using (no_grad())
            foreach (var (name, p) in teacher.named_parameters())
                if (name.Contains("self_attn.norm_q.") || name.Contains("self_attn.norm_k.")) p.mul_(3);
        using var model = SlaFineTuner.SparseCopy(teacher, Sla(topK: 0.5));
        using var dir = new TempFolder();
        var data = new FixedSamples();
        double before = WhiteBoxLoss(model, teacher, data);
        using (var tuner = new SlaFineTuner(model, teacher, Settings(12) with { BatchSize = 4, CheckpointEvery = 12 }, dir.Path))
            tuner.Train(data);
        double after = WhiteBoxLoss(model, teacher, data);
        TestContext.Out.WriteLine($"white-box loss on fixed draws: {before:E3} → {after:E3}");
        Assert.That(before, Is.GreaterThan(1e-3), "half the key blocks dropped: not the teacher yet");
        Assert.That(after, Is.LessThan(0.9 * before));
        Assert.That(model.named_parameters().Where(p => p.name.Contains("proj_l")).Any(p => p.parameter.abs().sum().item<float>() > 0),
            "proj_l is trained too");
    }

    static double WhiteBoxLoss(WanModel model, WanModel teacher, ITrainingBatches data)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var g = new Generator(99);
        var (x0, context) = data.Batch(0, 4);
        var sigma = tensor(new float[] { 0.2f, 0.5f, 0.8f, 0.95f });
        var s = sigma.view(4, 1, 1, 1, 1);
        var noisy = (1 - s) * x0 + s * randn(x0.shape, generator: g);
        return nn.functional.mse_loss(model.Forward(noisy, sigma * 1000, context), teacher.Forward(noisy, sigma * 1000, context)).item<float>();
    }

    [Test]
    public void ResumedRunEqualsUninterruptedRun()
    {
        using var teacher = MicroWan.New(seed: 1);
        using var straight = new TempFolder();
        using var resumed = new TempFolder();
        foreach (var (steps, dir) in new[] { (2, straight), (1, resumed), (2, resumed) })
        {
            using var model = SlaFineTuner.SparseCopy(teacher, Sla(topK: 0.5));
            using var tuner = new SlaFineTuner(model, teacher, Settings(steps), dir.Path);
            tuner.Train(new FixedSamples());
        }
        using var a = SafetensorsFile.Open(Path.Combine(TrainingState.CheckpointFolder(straight.Path), "model.safetensors"));
        using var b = SafetensorsFile.Open(Path.Combine(TrainingState.CheckpointFolder(resumed.Path), "model.safetensors"));
        foreach (var info in a.Tensors)
        {
            using var x = a.Read(info.Name);
            using var y = b.Read(info.Name);
            Assert.That(x.eq(y).all().item<bool>(), info.Name);
        }
    }

    [Test]
    public void NoiseLevelsAreDrawnFromTheGivenLevelsOnly()
    {
        double[] levels = [0.9877, 0.934, 0.6];
        using var drawn = (Settings(1) with { NoiseLevels = levels }).DrawSigmas(300, new Generator(5));
        var values = drawn.data<double>().ToArray();
        Assert.That(values.Distinct().Order(), Is.EqualTo(levels.Order()), "every level drawn, nothing else");
        using var shifted = Settings(1).DrawSigmas(300, new Generator(5));
        Assert.That(shifted.data<double>().ToArray().Distinct().Count(), Is.GreaterThan(290), "without levels: a continuous draw");
        Assert.Throws<TurboException>(() => (Settings(1) with { NoiseLevels = [0.5, 1.5] }).Validate());
        Assert.Throws<TurboException>(() => (Settings(1) with { NoiseLevels = [] }).Validate());
    }

    [Test]
    public void ADenseModelOrAnotherArchitectureIsRefused()
    {
        using var teacher = MicroWan.New(seed: 1);
        using var dense = MicroWan.New(seed: 2);
        using var dir = new TempFolder();
        Assert.That(Assert.Throws<TurboException>(() => new SlaFineTuner(dense, teacher, Settings(2), dir.Path))!.Message, Does.Contain("Sla"));
        using var wider = MicroWan.New(seed: 3, config: MicroWan.Config with { FfnDim = 96 });
        using var sparseWider = SlaFineTuner.SparseCopy(wider, Sla(0.5));
        Assert.That(Assert.Throws<TurboException>(() => new SlaFineTuner(sparseWider, teacher, Settings(2), dir.Path))!.Message,
            Does.Contain("same architecture"));
        Assert.Throws<TurboException>(() => SlaFineTuner.SparseCopy(teacher, new AttentionConfig { Kind = AttentionKind.SageSla, BlockQ = 64, BlockK = 64 }));
        Assert.Throws<TurboException>(() => new SlaFineTuner(SlaFineTuner.SparseCopy(teacher, Sla(0.5)), teacher, Settings(2) with { Shift = 0 }, dir.Path));
    }
}
