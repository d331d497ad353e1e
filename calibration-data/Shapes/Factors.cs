namespace Turbo.CalibrationData.Shapes;

// The factors a Shapes clip is made of. Each enum's order is the class index the oracle's heads use:
// append new values at the end, never reorder, or committed oracle weights read back the wrong class.

public enum ShapeKind { Circle, Square, Triangle, Star, Cross }

public enum ShapeColour { Red, Green, Blue, Yellow, White, Purple }

public enum ShapeSize { Small, Large }

public enum Backdrop { DarkBlue, Black, Gray, DarkGreen }

public enum Motion { MovesLeft, MovesRight, MovesUp, MovesDown, Bounces, Rotates, Grows }

public enum Speed { Slowly, Quickly }

/// <summary>The six factors, in the order the oracle's heads are laid out.</summary>
public enum Factor { Shape, Colour, Size, Background, Motion, Speed }

public static class FactorRules
{
    public static readonly Factor[] All = Enum.GetValues<Factor>();

    /// <summary>Bounces and grows have one pace; the others come slowly or quickly.</summary>
    public static bool HasSpeed(Motion motion) => motion is not (Motion.Bounces or Motion.Grows);

    /// <summary>A circle turning looks like a circle standing still, so no clip or prompt asks for one.</summary>
    public static bool IsValid(ShapeKind shape, Motion motion) => !(shape == ShapeKind.Circle && motion == Motion.Rotates);

    /// <summary>How many classes the factor has (the width of the oracle's head for it).</summary>
    public static int ClassCount(Factor factor) => factor switch
    {
        Factor.Shape => Enum.GetValues<ShapeKind>().Length,
        Factor.Colour => Enum.GetValues<ShapeColour>().Length,
        Factor.Size => Enum.GetValues<ShapeSize>().Length,
        Factor.Background => Enum.GetValues<Backdrop>().Length,
        Factor.Motion => Enum.GetValues<Motion>().Length,
        Factor.Speed => Enum.GetValues<Speed>().Length,
        _ => throw new ArgumentOutOfRangeException(nameof(factor)),
    };
}

/// <summary>
/// Everything a clip shows, as classes. <see cref="Speed"/> is null exactly when the motion has no speed.
/// </summary>
public sealed record ShapeFactors(ShapeKind Shape, ShapeColour Colour, ShapeSize Size, Backdrop Background, Motion Motion, Speed? Speed)
{
    /// <summary>The factor's class index, or null for a speed the motion does not have.</summary>
    public int? ClassOf(Factor factor) => factor switch
    {
        Factor.Shape => (int)Shape,
        Factor.Colour => (int)Colour,
        Factor.Size => (int)Size,
        Factor.Background => (int)Background,
        Factor.Motion => (int)Motion,
        Factor.Speed => Speed is { } s ? (int)s : null,
        _ => throw new ArgumentOutOfRangeException(nameof(factor)),
    };

    /// <summary>The caption's view of these factors, leaving out the background and/or the speed.</summary>
    public StatedFactors State(bool background = true, bool speed = true) =>
        new(Shape, Colour, Size, Motion, background ? Background : null, speed ? Speed : null);
}

/// <summary>
/// What a caption says: shape, colour, size and motion always; background and speed only when stated.
/// A clip for it fills the unstated factors at random.
/// </summary>
public sealed record StatedFactors(ShapeKind Shape, ShapeColour Colour, ShapeSize Size, Motion Motion, Backdrop? Background, Speed? Speed)
{
    /// <summary>The stated class of the factor, or null when the caption leaves it out.</summary>
    public int? ClassOf(Factor factor) => factor switch
    {
        Factor.Shape => (int)Shape,
        Factor.Colour => (int)Colour,
        Factor.Size => (int)Size,
        Factor.Background => Background is { } b ? (int)b : null,
        Factor.Motion => (int)Motion,
        Factor.Speed => Speed is { } s ? (int)s : null,
        _ => throw new ArgumentOutOfRangeException(nameof(factor)),
    };

    public string Caption => Captions.Compose(this);

    /// <summary>The full factors of one clip for this caption: unstated background and speed drawn from <paramref name="random"/>.</summary>
    public ShapeFactors Complete(SampleRandom random)
    {
        var background = Background ?? random.Pick<Backdrop>();
        Speed? speed = FactorRules.HasSpeed(Motion) ? Speed ?? random.Pick<Speed>() : null;
        return new ShapeFactors(Shape, Colour, Size, background, Motion, speed);
    }
}
