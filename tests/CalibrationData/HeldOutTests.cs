using Turbo.CalibrationData.Shapes;

namespace Turbo.Tests.CalibrationData;

public sealed class HeldOutTests : TensorScopePerTest
{
    static readonly IReadOnlyList<(ShapeKind Shape, ShapeColour Colour, Motion Motion)> HeldOut = HeldOutCombinations.Triples;

    [Test]
    public void HoldsOutAboutOneTenthOfTheValidTriples()
    {
        int valid = HeldOutCombinations.AllValidTriples().Count();
        Assert.That(HeldOut.Distinct().Count(), Is.EqualTo(HeldOut.Count));
        Assert.That(HeldOut.All(t => FactorRules.IsValid(t.Shape, t.Motion)), Is.True);
        Assert.That(HeldOut.Count / (double)valid, Is.InRange(0.08, 0.12));
        Assert.That(HeldOutCombinations.TrainingTriples.Count + HeldOut.Count, Is.EqualTo(valid));
    }

    [Test]
    public void EveryValueAndEveryPairOfAHeldOutTripleStillOccursInTraining()
    {
        var training = HeldOutCombinations.TrainingTriples;
        Assert.That(HeldOut.Select(t => t.Shape).Distinct().Count(), Is.EqualTo(Enum.GetValues<ShapeKind>().Length));
        Assert.That(HeldOut.Select(t => t.Colour).Distinct().Count(), Is.EqualTo(Enum.GetValues<ShapeColour>().Length));
        Assert.That(HeldOut.Select(t => t.Motion).Distinct().Count(), Is.EqualTo(Enum.GetValues<Motion>().Length));
        foreach (var t in HeldOut)
        {
            Assert.That(training.Any(u => u.Shape == t.Shape && u.Colour == t.Colour), $"{t}: shape × colour never trained");
            Assert.That(training.Any(u => u.Shape == t.Shape && u.Motion == t.Motion), $"{t}: shape × motion never trained");
            Assert.That(training.Any(u => u.Colour == t.Colour && u.Motion == t.Motion), $"{t}: colour × motion never trained");
        }
    }

    [Test]
    public void TrainingSamplesNeverShowAHeldOutTripleAndHeldOutSamplesOnlyDo()
    {
        var dataset = new ShapesDataset(seed: 11);
        var trainTriples = new HashSet<(ShapeKind, ShapeColour, Motion)>();
        for (int i = 0; i < 5000; i++)
        {
            var prompt = dataset.Prompt(ShapesSplit.Train, i);
            Assert.That(HeldOutCombinations.Contains(prompt), Is.False, prompt.Caption);
            trainTriples.Add((prompt.Shape, prompt.Colour, prompt.Motion));
        }
        Assert.That(trainTriples, Has.Count.EqualTo(HeldOutCombinations.TrainingTriples.Count), "5000 samples should reach every training triple");

        var heldOutTriples = new HashSet<(ShapeKind, ShapeColour, Motion)>();
        for (int i = 0; i < 1000; i++)
        {
            var prompt = dataset.Prompt(ShapesSplit.HeldOut, i);
            Assert.That(HeldOutCombinations.Contains(prompt), Is.True, prompt.Caption);
            heldOutTriples.Add((prompt.Shape, prompt.Colour, prompt.Motion));
        }
        Assert.That(heldOutTriples, Has.Count.EqualTo(HeldOut.Count));
    }

    [Test]
    public void RenderedTrainingClipsMatchTheirPromptsAndAreNeverHeldOut()
    {
        var dataset = new ShapesDataset(seed: 12);
        for (int i = 0; i < 50; i++)
        {
            using var sample = dataset.Sample(ShapesSplit.Train, i);
            Assert.That(HeldOutCombinations.Contains(sample.Factors), Is.False);
            Assert.That(sample.Stated, Is.EqualTo(dataset.Prompt(ShapesSplit.Train, i)));
            Assert.That(sample.Caption, Is.EqualTo(sample.Stated.Caption));
        }
    }
}
