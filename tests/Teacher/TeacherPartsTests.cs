using Turbo.CalibrationData.Shapes;
using Turbo.CalibrationData.Teacher;
using Turbo.Distiller.Training;
using Turbo.Runtime.Models;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Teacher;

public class TeacherPartsTests
{
    [Test]
    public void VaeAndTextEncoderConfigsRoundTripThroughTheirJson()
    {
        var vae = TeacherRecipe.Vae with { LatentsMean = [0.5, -1], LatentsStd = [2, 3] };
        var back = WanVaeConfig.FromJson(vae.ToJson(), "test");
        Assert.That(back.ToJson(), Is.EqualTo(vae.ToJson()));
        Assert.That(back.DimMult, Is.EqualTo(vae.DimMult));
        Assert.That(back.TemperalDownsample, Is.EqualTo(vae.TemperalDownsample));
        Assert.That(back.LatentsStd, Is.EqualTo(vae.LatentsStd));

        var text = TeacherRecipe.TextEncoder(vocabularySize: 40);
        Assert.That(Umt5Config.FromJson(text.ToJson(), "test"), Is.EqualTo(text));
    }

    [Test]
    public void ABatchHoldsTheSameClipsAsSampleDrawnOneByOne()
    {
        var dataset = new ShapesDataset(9, new ShapesOptions(Frames: 9, Height: 32, Width: 32));
        var (videos, stated) = dataset.Batch(ShapesSplit.Train, 100, 5);
        using (videos)
            for (int i = 0; i < 5; i++)
            {
                using var sample = dataset.Sample(ShapesSplit.Train, 100 + i);
                Assert.That(videos[i].eq(sample.Video).all().item<bool>(), $"clip {i}");
                Assert.That(stated[i].Caption, Is.EqualTo(sample.Caption));
            }
    }

    [Test]
    public void ATimeLimitStopsTrainingCheckpointedAndALaterRunResumes()
    {
        var config = new WanVaeConfig { BaseDim = 8, ZDim = 4, DimMult = [1, 2], TemperalDownsample = [true], NumResBlocks = 1 };
        using var dir = new TempFolder();
        var data = new ShapesClipBatches(new ShapesDataset(3, new ShapesOptions(Frames: 5, Height: 32, Width: 32)));
        var settings = new VaeTrainingSettings { Steps = 1000, BatchSize = 1, TimeLimit = TimeSpan.Zero, CheckpointEvery = 500 };
        using (var vae = new WanVae(config))
        using (var trainer = new VaeTrainer(vae, settings, dir.Path))
        {
            Initializers.Vae(vae, seed: 1);
            trainer.Train(data);
            Assert.That(trainer.Step, Is.EqualTo(1));
        }
        using var resumedVae = new WanVae(config);
        using var resumed = new VaeTrainer(resumedVae, settings, dir.Path);
        Assert.That(resumed.Step, Is.EqualTo(1), "the stopped run left a checkpoint");
    }
}
