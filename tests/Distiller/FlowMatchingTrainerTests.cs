using Turbo.Distiller.Training;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Distiller;

public class FlowMatchingTrainerTests
{
    static readonly WanConfig Micro = new()
    {
        Dim = 32, FfnDim = 64, NumHeads = 2, NumLayers = 1, InDim = 4, OutDim = 4, TextDim = 8, TextLen = 4, FreqDim = 16,
    };

    /// <summary>Two fixed clips, each with its own caption embedding: a model can learn them.</summary>
    sealed class TwoClips : ITrainingBatches
    {
        readonly Tensor _latents = randn([2, 4, 1, 4, 4], generator: new Generator(7));
        readonly Tensor _contexts = randn([2, 4, 8], generator: new Generator(8));

        public (Tensor Latents, Tensor Context) Batch(long step, int batchSize)
        {
            var index = arange(batchSize) % 2;
            return (_latents.index_select(0, index), _contexts.index_select(0, index));
        }
    }

    static WanModel NewModel()
    {
        var model = new WanModel(Micro);
        Initializers.Wan(model, seed: 1);
        return model;
    }

    static FlowMatchingSettings Settings(int steps) => new()
    {
        Steps = steps, BatchSize = 4, LearningRate = 3e-3, CheckpointEvery = 3, Seed = 5, EmaDecay = 0.9,
    };

    [Test]
    public void LossFallsOnDataItCanLearn()
    {
        using var model = NewModel();
        using var empty = zeros(1, 4, 8);
        using var dir = new TempFolder();
        var data = new TwoClips();
        double before = HeldOutLoss(model, data);
        using (var trainer = new FlowMatchingTrainer(model, empty, Settings(60) with { CheckpointEvery = 60, LearningRate = 6e-3 }, dir.Path))
            trainer.Train(data);
        double after = HeldOutLoss(model, data);
        TestContext.Out.WriteLine($"flow-matching loss on fixed noise: {before:F3} → {after:F3}");
        Assert.That(after, Is.LessThan(0.7 * before));
        Assert.That(File.Exists(Path.Combine(TrainingState.CheckpointFolder(dir.Path), "ema.safetensors")));
    }

    /// <summary>The training objective on 64 fixed (σ, noise) draws, so two evaluations compare like with like.</summary>
    static double HeldOutLoss(WanModel model, ITrainingBatches data)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var generator = new Generator(99);
        var (x0, context) = data.Batch(0, 64);
        var sigma = rand(64, generator: generator);
        var noise = randn(x0.shape, generator: generator);
        var s = sigma.view(64, 1, 1, 1, 1);
        var prediction = model.Forward((1 - s) * x0 + s * noise, sigma * 1000, context);
        return nn.functional.mse_loss(prediction, noise - x0).item<float>();
    }

    [Test]
    public void ResumedRunEqualsUninterruptedRun()
    {
        using var empty = zeros(1, 4, 8);
        using var straight = new TempFolder();
        using var resumed = new TempFolder();
        using (var model = NewModel())
        using (var trainer = new FlowMatchingTrainer(model, empty, Settings(6), straight.Path))
            trainer.Train(new TwoClips());
        using (var model = NewModel()) // interrupted: out of time after its first step
        using (var trainer = new FlowMatchingTrainer(model, empty, Settings(6) with { TimeLimit = TimeSpan.Zero }, resumed.Path))
            trainer.Train(new TwoClips());
        using (var model = NewModel())
        using (var trainer = new FlowMatchingTrainer(model, empty, Settings(6), resumed.Path))
        {
            Assert.That(trainer.Step, Is.EqualTo(1));
            trainer.Train(new TwoClips());
        }
        using var a = SafetensorsFile.Open(Path.Combine(TrainingState.CheckpointFolder(straight.Path), "model.safetensors"));
        using var b = SafetensorsFile.Open(Path.Combine(TrainingState.CheckpointFolder(resumed.Path), "model.safetensors"));
        foreach (var info in a.Tensors)
        {
            using var x = a.Read(info.Name);
            using var y = b.Read(info.Name);
            Assert.That(x.allclose(y, rtol: 0, atol: 0), Is.True, info.Name);
        }
    }
}
