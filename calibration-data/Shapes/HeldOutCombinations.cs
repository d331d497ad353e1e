namespace Turbo.CalibrationData.Shapes;

/// <summary>
/// The shape × colour × motion triples that never appear in training samples (21 of the 204 valid triples,
/// about 10%); evaluation prompts come from them. Chosen by hand so that every shape, colour and motion occurs
/// in them, and every shape × colour, shape × motion and colour × motion pair of a held-out triple still occurs
/// in training: a model that composes what it learned can draw them, one that memorised triples cannot.
/// Fixed forever: changing it changes what every trained model was kept from seeing.
/// </summary>
public static class HeldOutCombinations
{
    public static readonly IReadOnlyList<(ShapeKind Shape, ShapeColour Colour, Motion Motion)> Triples =
    [
        (ShapeKind.Circle, ShapeColour.Red, Motion.MovesLeft),
        (ShapeKind.Star, ShapeColour.Blue, Motion.MovesLeft),
        (ShapeKind.Cross, ShapeColour.Yellow, Motion.MovesLeft),
        (ShapeKind.Square, ShapeColour.Green, Motion.MovesRight),
        (ShapeKind.Triangle, ShapeColour.White, Motion.MovesRight),
        (ShapeKind.Star, ShapeColour.Purple, Motion.MovesRight),
        (ShapeKind.Triangle, ShapeColour.Red, Motion.MovesUp),
        (ShapeKind.Cross, ShapeColour.Purple, Motion.MovesUp),
        (ShapeKind.Circle, ShapeColour.Blue, Motion.MovesUp),
        (ShapeKind.Square, ShapeColour.Yellow, Motion.MovesDown),
        (ShapeKind.Star, ShapeColour.Green, Motion.MovesDown),
        (ShapeKind.Circle, ShapeColour.White, Motion.MovesDown),
        (ShapeKind.Cross, ShapeColour.Red, Motion.Bounces),
        (ShapeKind.Square, ShapeColour.Purple, Motion.Bounces),
        (ShapeKind.Triangle, ShapeColour.Blue, Motion.Bounces),
        (ShapeKind.Star, ShapeColour.Yellow, Motion.Rotates),
        (ShapeKind.Triangle, ShapeColour.Green, Motion.Rotates),
        (ShapeKind.Square, ShapeColour.White, Motion.Rotates),
        (ShapeKind.Circle, ShapeColour.Purple, Motion.Grows),
        (ShapeKind.Cross, ShapeColour.Green, Motion.Grows),
        (ShapeKind.Square, ShapeColour.Red, Motion.Grows),
    ];

    static readonly HashSet<(ShapeKind, ShapeColour, Motion)> Set = [.. Triples];

    public static bool Contains(ShapeKind shape, ShapeColour colour, Motion motion) => Set.Contains((shape, colour, motion));

    public static bool Contains(StatedFactors f) => Contains(f.Shape, f.Colour, f.Motion);

    public static bool Contains(ShapeFactors f) => Contains(f.Shape, f.Colour, f.Motion);

    /// <summary>Every valid triple, held out or not.</summary>
    public static IEnumerable<(ShapeKind Shape, ShapeColour Colour, Motion Motion)> AllValidTriples() =>
        from shape in Enum.GetValues<ShapeKind>()
        from colour in Enum.GetValues<ShapeColour>()
        from motion in Enum.GetValues<Motion>()
        where FactorRules.IsValid(shape, motion)
        select (shape, colour, motion);

    /// <summary>The valid triples training samples draw from.</summary>
    public static IReadOnlyList<(ShapeKind Shape, ShapeColour Colour, Motion Motion)> TrainingTriples { get; } =
        AllValidTriples().Where(t => !Set.Contains(t)).ToArray();
}
