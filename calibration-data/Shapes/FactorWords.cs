namespace Turbo.CalibrationData.Shapes;

/// <summary>The words a caption uses for each factor value.</summary>
public static class FactorWords
{
    public static string Of(ShapeKind shape) => shape switch
    {
        ShapeKind.Circle => "circle",
        ShapeKind.Square => "square",
        ShapeKind.Triangle => "triangle",
        ShapeKind.Star => "star",
        ShapeKind.Cross => "cross",
        _ => throw new ArgumentOutOfRangeException(nameof(shape)),
    };

    public static string Of(ShapeColour colour) => colour switch
    {
        ShapeColour.Red => "red",
        ShapeColour.Green => "green",
        ShapeColour.Blue => "blue",
        ShapeColour.Yellow => "yellow",
        ShapeColour.White => "white",
        ShapeColour.Purple => "purple",
        _ => throw new ArgumentOutOfRangeException(nameof(colour)),
    };

    public static string Of(ShapeSize size) => size switch
    {
        ShapeSize.Small => "small",
        ShapeSize.Large => "large",
        _ => throw new ArgumentOutOfRangeException(nameof(size)),
    };

    public static string Of(Backdrop background) => background switch
    {
        Backdrop.DarkBlue => "dark blue",
        Backdrop.Black => "black",
        Backdrop.Gray => "gray",
        Backdrop.DarkGreen => "dark green",
        _ => throw new ArgumentOutOfRangeException(nameof(background)),
    };

    public static string Of(Motion motion) => motion switch
    {
        Motion.MovesLeft => "moves left",
        Motion.MovesRight => "moves right",
        Motion.MovesUp => "moves up",
        Motion.MovesDown => "moves down",
        Motion.Bounces => "bounces",
        Motion.Rotates => "rotates",
        Motion.Grows => "grows",
        _ => throw new ArgumentOutOfRangeException(nameof(motion)),
    };

    public static string Of(Speed speed) => speed switch
    {
        Speed.Slowly => "slowly",
        Speed.Quickly => "quickly",
        _ => throw new ArgumentOutOfRangeException(nameof(speed)),
    };

    /// <summary>The phrase of any factor class (what the oracle's head for <paramref name="factor"/> calls class <paramref name="index"/>).</summary>
    public static string Of(Factor factor, int index) => factor switch
    {
        Factor.Shape => Of((ShapeKind)index),
        Factor.Colour => Of((ShapeColour)index),
        Factor.Size => Of((ShapeSize)index),
        Factor.Background => Of((Backdrop)index),
        Factor.Motion => Of((Motion)index),
        Factor.Speed => Of((Speed)index),
        _ => throw new ArgumentOutOfRangeException(nameof(factor)),
    };

    /// <summary>Every phrase of the factor, by class index.</summary>
    public static IReadOnlyList<string> Phrases(Factor factor) =>
        Enumerable.Range(0, FactorRules.ClassCount(factor)).Select(i => Of(factor, i)).ToArray();
}
