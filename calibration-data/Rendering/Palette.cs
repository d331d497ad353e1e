using Turbo.CalibrationData.Shapes;

namespace Turbo.CalibrationData.Rendering;

/// <summary>A colour with channels in [0, 1].</summary>
public readonly record struct Rgb(float R, float G, float B)
{
    /// <summary>Each channel moved by up to ±<paramref name="amount"/>, so no two clips share an exact colour.</summary>
    public Rgb Jittered(SampleRandom random, double amount) =>
        new(Jitter(R, random, amount), Jitter(G, random, amount), Jitter(B, random, amount));

    static float Jitter(float value, SampleRandom random, double amount) => (float)Math.Clamp(value + random.Uniform(-amount, amount), 0, 1);
}

/// <summary>
/// The colours of objects and backgrounds. Every object colour differs clearly from every background,
/// including blue on dark blue, green on dark green and white on gray.
/// </summary>
public static class Palette
{
    public const double ObjectJitter = 0.04, BackgroundJitter = 0.03;

    public static Rgb Of(ShapeColour colour) => colour switch
    {
        ShapeColour.Red => new(0.90f, 0.12f, 0.10f),
        ShapeColour.Green => new(0.15f, 0.80f, 0.20f),
        ShapeColour.Blue => new(0.20f, 0.40f, 1.00f),
        ShapeColour.Yellow => new(0.95f, 0.88f, 0.10f),
        ShapeColour.White => new(0.95f, 0.95f, 0.95f),
        ShapeColour.Purple => new(0.62f, 0.22f, 0.85f),
        _ => throw new ArgumentOutOfRangeException(nameof(colour)),
    };

    public static Rgb Of(Backdrop background) => background switch
    {
        Backdrop.DarkBlue => new(0.05f, 0.07f, 0.32f),
        Backdrop.Black => new(0.02f, 0.02f, 0.02f),
        Backdrop.Gray => new(0.45f, 0.45f, 0.45f),
        Backdrop.DarkGreen => new(0.05f, 0.26f, 0.08f),
        _ => throw new ArgumentOutOfRangeException(nameof(background)),
    };
}
