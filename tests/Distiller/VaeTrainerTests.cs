using Turbo.Distiller.Training;
using Turbo.Runtime.Models;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Distiller;

public class VaeTrainerTests
{
    /// <summary>A bright square sliding over a dark background: 5 frames of 16×16.</summary>
    sealed class SlidingSquares : IClipBatches
    {
        public Tensor Batch(long step, int batchSize)
        {
            var clips = full([batchSize, 3, 5, 16, 16], -0.8f);
            for (int b = 0; b < batchSize; b++)
                for (int f = 0; f < 5; f++)
                {
                    int x = (int)((step + b + f) % 10);
                    clips[b, .., f, 4..10, x..(x + 6)] = tensor(0.9f);
                }
            return clips;
        }
    }

    [Test]
    public void ReconstructionImprovesAndTheRunResumes()
    {
        var config = new WanVaeConfig { BaseDim = 8, ZDim = 4, DimMult = [1, 2], TemperalDownsample = [true], NumResBlocks = 1 };
        using var vae = new WanVae(config);
        Initializers.Vae(vae, seed: 3);
        var data = new SlidingSquares();
        using var clips = data.Batch(1000, 2);
        double before = Psnr(vae, clips);
        using var dir = new TempFolder();
        var settings = new VaeTrainingSettings { Steps = 30, BatchSize = 2, LearningRate = 3e-3, CheckpointEvery = 15, EmaDecay = 0.5 };
        using (var trainer = new VaeTrainer(vae, settings, dir.Path)) trainer.Train(data, p => TestContext.Out.WriteLine($"{p.Step} {p.Loss}"));
        double after = Psnr(vae, clips);
        TestContext.Out.WriteLine($"PSNR {before:F1} dB → {after:F1} dB");
        Assert.That(after, Is.GreaterThan(before + 3));

        using var resumedVae = new WanVae(config);
        using var resumed = new VaeTrainer(resumedVae, settings with { Steps = 31 }, dir.Path);
        Assert.That(resumed.Step, Is.EqualTo(30));
    }

    [Test]
    public void DecoderOnlyTrainingImprovesTheDecoderAndLeavesTheEncoderBitForBit()
    {
        var config = new WanVaeConfig { BaseDim = 8, ZDim = 4, DimMult = [1, 2], TemperalDownsample = [true], NumResBlocks = 1 };
        using var vae = new WanVae(config);
        Initializers.Vae(vae, seed: 5);
        var encoderBefore = vae.named_parameters().Where(p => !VaeTrainer.IsDecoderSide(p.name))
            .ToDictionary(p => p.name, p => p.parameter.detach().clone());
        var data = new SlidingSquares();
        using var clips = data.Batch(1000, 2);
        double before = Psnr(vae, clips);
        using var dir = new TempFolder();
        var settings = new VaeTrainingSettings { Steps = 30, BatchSize = 2, LearningRate = 3e-3, CheckpointEvery = 30, EmaDecay = 0.5, DecoderOnly = true };
        Dictionary<string, Tensor> ema;
        using (var trainer = new VaeTrainer(vae, settings, dir.Path))
        {
            trainer.Train(data);
            ema = trainer.EmaWeights();
        }
        double after = Psnr(vae, clips);
        TestContext.Out.WriteLine($"PSNR {before:F1} dB → {after:F1} dB, decoder only");
        Assert.That(after, Is.GreaterThan(before + 1));
        Assert.That(encoderBefore, Is.Not.Empty);
        foreach (var (name, original) in encoderBefore)
        {
            Assert.That(vae.named_parameters().First(p => p.name == name).parameter.equal(original).all().item<bool>(), Is.True, name);
            Assert.That(ema[name].equal(original).all().item<bool>(), Is.True, $"EMA of {name}");
        }
        Assert.That(vae.named_parameters().Where(p => VaeTrainer.IsDecoderSide(p.name)).Any(p => p.name.StartsWith("decoder.")), Is.True);
        foreach (var t in ema.Values.Concat(encoderBefore.Values)) t.Dispose();
    }

    static double Psnr(WanVae vae, Tensor clips)
    {
        using var noGrad = no_grad();
        var (mean, logVar) = vae.Encode(clips);
        using (mean) using (logVar)
        using (var decoded = vae.Decode(mean))
            return ReconstructionQuality.Psnr(decoded, clips);
    }
}
