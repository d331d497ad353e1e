using Turbo.Runtime;

namespace Turbo.CalibrationData.Shapes;

/// <summary>
/// How clips are rendered and captioned. Frames must be 4n+1 (the Wan VAE compresses time 4× after the first
/// frame); height and width multiples of 16 (the VAE's 8× times the DiT's 2× patches) from 32 to 128.
/// </summary>
public sealed record ShapesOptions(int Frames = 17, int Height = 64, int Width = 64,
    double DropBackground = 0.2, double DropSpeed = 0.2)
{
    public const int MinSide = 32, MaxSide = 128;

    /// <summary>Throws a TurboException naming the first option out of range.</summary>
    public ShapesOptions Validated()
    {
        if (Frames < 5 || Frames % 4 != 1) throw new TurboException($"Shapes frames = {Frames}: expected 4n+1 with n ≥ 1 (5, 9, 13, 17, ...)");
        Side("height", Height);
        Side("width", Width);
        Probability("background dropout", DropBackground);
        Probability("speed dropout", DropSpeed);
        return this;
    }

    static void Side(string name, int value)
    {
        if (value < MinSide || value > MaxSide || value % 16 != 0)
            throw new TurboException($"Shapes {name} = {value}: expected a multiple of 16 from {MinSide} to {MaxSide}");
    }

    static void Probability(string name, double value)
    {
        if (!(value >= 0 && value <= 1)) throw new TurboException($"Shapes {name} = {value}: expected a probability in [0, 1]");
    }
}
