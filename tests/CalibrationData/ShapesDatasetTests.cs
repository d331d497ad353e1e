using Turbo.CalibrationData.Shapes;
using Turbo.Runtime;
using static TorchSharp.torch;

namespace Turbo.Tests.CalibrationData;

public sealed class ShapesDatasetTests : TensorScopePerTest
{
    /// <summary>Bit-for-bit equal (same shape, every element equal).</summary>
    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.equal(b).all().item<bool>();

    [Test]
    public void TheSameSeedSplitAndIndexGiveTheSameClipBitForBit()
    {
        using var a = new ShapesDataset(5).Sample(ShapesSplit.Train, 123);
        using var b = new ShapesDataset(5).Sample(ShapesSplit.Train, 123);
        Assert.That(b.Caption, Is.EqualTo(a.Caption));
        Assert.That(b.Factors, Is.EqualTo(a.Factors));
        Assert.That(Same(b.Video, a.Video), Is.True);
    }

    [Test]
    public void SamplesDifferAcrossIndicesSeedsAndSplits()
    {
        using var first = new ShapesDataset(5).Sample(ShapesSplit.Train, 0);
        using var nextIndex = new ShapesDataset(5).Sample(ShapesSplit.Train, 1);
        using var otherSeed = new ShapesDataset(6).Sample(ShapesSplit.Train, 0);
        using var otherSplit = new ShapesDataset(5).Sample(ShapesSplit.HeldOut, 0);
        foreach (var other in new[] { nextIndex, otherSeed, otherSplit })
            Assert.That(Same(other.Video, first.Video), Is.False);
    }

    [Test]
    public void SampleIsTheSameWhetherOrNotEarlierSamplesWereDrawn()
    {
        var dataset = new ShapesDataset(9);
        using var direct = dataset.Sample(ShapesSplit.HeldOut, 40);
        for (int i = 0; i < 40; i++) dataset.Sample(ShapesSplit.HeldOut, i).Dispose();
        using var again = dataset.Sample(ShapesSplit.HeldOut, 40);
        Assert.That(Same(again.Video, direct.Video), Is.True);
    }

    [Test]
    public void ClipsHaveTheVaeLayoutAndRange()
    {
        var dataset = new ShapesDataset(1, new ShapesOptions(Frames: 9, Height: 48, Width: 96));
        using var sample = dataset.Sample(ShapesSplit.Train, 3);
        Assert.That(sample.Video.shape, Is.EqualTo(new long[] { 3, 9, 48, 96 }));
        Assert.That(sample.Video.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(sample.Video.min().item<float>(), Is.GreaterThanOrEqualTo(-1f));
        Assert.That(sample.Video.max().item<float>(), Is.LessThanOrEqualTo(1f));
    }

    [Test]
    public void TrainingCaptionsLeaveOutBackgroundAndSpeedAboutOneTimeInFive()
    {
        var dataset = new ShapesDataset(3);
        int n = 4000, noBackground = 0, withSpeedMotion = 0, noSpeed = 0;
        for (int i = 0; i < n; i++)
        {
            var prompt = dataset.Prompt(ShapesSplit.Train, i);
            if (prompt.Background is null) noBackground++;
            if (!FactorRules.HasSpeed(prompt.Motion)) { Assert.That(prompt.Speed, Is.Null); continue; }
            withSpeedMotion++;
            if (prompt.Speed is null) noSpeed++;
        }
        Assert.That(noBackground / (double)n, Is.InRange(0.17, 0.23));
        Assert.That(noSpeed / (double)withSpeedMotion, Is.InRange(0.17, 0.23));
    }

    [Test]
    public void HeldOutCaptionsStateEveryFactor()
    {
        var dataset = new ShapesDataset(3);
        for (int i = 0; i < 500; i++)
        {
            var prompt = dataset.Prompt(ShapesSplit.HeldOut, i);
            Assert.That(prompt.Background, Is.Not.Null);
            Assert.That(prompt.Speed is null, Is.EqualTo(!FactorRules.HasSpeed(prompt.Motion)));
        }
    }

    [Test]
    public void DropoutCanBeTurnedOff()
    {
        var dataset = new ShapesDataset(3, new ShapesOptions(DropBackground: 0, DropSpeed: 0));
        for (int i = 0; i < 300; i++)
            Assert.That(dataset.Prompt(ShapesSplit.Train, i).Background, Is.Not.Null);
    }

    [Test]
    public void ClipForACaptionShowsWhatItStatesAndFillsTheRest()
    {
        var dataset = new ShapesDataset(4);
        var backgrounds = new HashSet<Backdrop>();
        for (int i = 0; i < 24; i++)
        {
            using var clip = dataset.ClipFor("a large yellow star rotates quickly", i);
            Assert.That(clip.Factors with { Background = Backdrop.Black },
                Is.EqualTo(new ShapeFactors(ShapeKind.Star, ShapeColour.Yellow, ShapeSize.Large, Backdrop.Black, Motion.Rotates, Speed.Quickly)));
            backgrounds.Add(clip.Factors.Background);
        }
        Assert.That(backgrounds.Count, Is.GreaterThan(1), "an unstated background should vary between clips");
        using var a = dataset.ClipFor("a large yellow star rotates quickly", 0);
        using var b = dataset.ClipFor("a large yellow star rotates quickly", 0);
        Assert.That(Same(b.Video, a.Video), Is.True);
    }

    [TestCase(16, 64, 64, "frames")]
    [TestCase(1, 64, 64, "frames")]
    [TestCase(17, 72, 64, "height")]
    [TestCase(17, 64, 144, "width")]
    [TestCase(17, 16, 64, "height")]
    public void RejectsSizesTheVaeCannotTake(int frames, int height, int width, string named)
    {
        var error = Assert.Throws<TurboException>(() => new ShapesDataset(0, new ShapesOptions(frames, height, width)))!;
        Assert.That(error.Message, Does.Contain(named));
    }

    [Test]
    public void RejectsDropoutOutsideZeroToOne()
    {
        Assert.Throws<TurboException>(() => new ShapesDataset(0, new ShapesOptions(DropSpeed: 1.5)));
    }
}
