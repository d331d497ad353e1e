namespace Turbo.CalibrationData.Shapes;

/// <summary>Draws the factors of one sample and what its caption states.</summary>
public static class FactorSampler
{
    /// <summary>
    /// Train: a uniformly drawn training triple; the caption leaves out the background and the speed with the
    /// options' probabilities. HeldOut: a held-out triple with a full caption.
    /// </summary>
    public static (ShapeFactors Factors, StatedFactors Stated) Draw(ShapesSplit split, ShapesOptions options, SampleRandom random)
    {
        var triples = split == ShapesSplit.Train ? HeldOutCombinations.TrainingTriples : HeldOutCombinations.Triples;
        var factors = Complete(random.Pick(triples), random);
        // Both coins are tossed for every sample so each later draw sits at the same place in the stream.
        bool dropBackground = random.Chance(options.DropBackground), dropSpeed = random.Chance(options.DropSpeed);
        return split == ShapesSplit.Train
            ? (factors, factors.State(background: !dropBackground, speed: !dropSpeed))
            : (factors, factors.State());
    }

    /// <summary>Any valid combination, held out or not: what the oracle learns from, since it must read every prompt.</summary>
    public static ShapeFactors DrawAnyCombination(SampleRandom random) =>
        Complete(random.Pick(HeldOutCombinations.AllValidTriples().ToArray()), random);

    static ShapeFactors Complete((ShapeKind Shape, ShapeColour Colour, Motion Motion) triple, SampleRandom random)
    {
        var size = random.Pick<ShapeSize>();
        var background = random.Pick<Backdrop>();
        Speed? speed = FactorRules.HasSpeed(triple.Motion) ? random.Pick<Speed>() : null;
        return new ShapeFactors(triple.Shape, triple.Colour, size, background, triple.Motion, speed);
    }
}
