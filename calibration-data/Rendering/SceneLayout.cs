using Turbo.CalibrationData.Shapes;

namespace Turbo.CalibrationData.Rendering;

/// <summary>Where and how an object is drawn at one moment: centre in pixels, angle in radians, scale of its radius.</summary>
public readonly record struct Pose(double X, double Y, double Angle, double Scale);

/// <summary>
/// The random details of one clip that the factors leave open: the object's exact radius and starting place,
/// which way it turns, and the exact colours. Drawn so the whole object stays inside the frame all clip long.
/// </summary>
public sealed record SceneLayout(double Radius, double StartX, double StartY, double Travel, int Spin, Rgb Foreground, Rgb Background)
{
    // Sizes are diameters as a share of the shorter side: small objects are ≥ 16 px at 64×64 (2 latent pixels after the VAE's 8×).
    public const double SmallDiameter = 0.26, LargeDiameter = 0.40, SizeJitter = 0.05;
    // Straight moves cover this share of the frame's width or height over the clip.
    public const double SlowTravel = 0.16, QuickTravel = 0.36;
    // Bounces: two hops of this share of the height; turns: the whole clip's angle; grows: radius scale from start to end.
    public const double BounceHeight = 0.30, SlowTurnDegrees = 60, QuickTurnDegrees = 180, GrowFrom = 0.7, GrowTo = 1.3;
    // Keeps the object one pixel clear of the edge, so border pixels stay pure background (no clipped shapes).
    const double MarginPixels = 1.0;

    public static SceneLayout Draw(ShapeFactors f, ShapesOptions options, SampleRandom random)
    {
        int width = options.Width, height = options.Height;
        double diameter = f.Size == ShapeSize.Small ? SmallDiameter : LargeDiameter;
        double radius = diameter / 2 * Math.Min(width, height) * random.Uniform(1 - SizeJitter, 1 + SizeJitter);
        double reach = ShapeOutline.BoundingRadius(f.Shape) * radius * (f.Motion == Motion.Grows ? GrowTo : 1) + MarginPixels;
        bool quick = f.Speed == Speed.Quickly;
        double travel = f.Motion switch
        {
            Motion.MovesLeft or Motion.MovesRight => (quick ? QuickTravel : SlowTravel) * width,
            Motion.MovesUp or Motion.MovesDown => (quick ? QuickTravel : SlowTravel) * height,
            Motion.Bounces => BounceHeight * height,
            Motion.Rotates => (quick ? QuickTurnDegrees : SlowTurnDegrees) * Math.PI / 180,
            _ => 0,
        };
        // The start's range leaves room for the path: e.g. a rightward move starts at least `travel` before the right edge.
        double x = f.Motion switch
        {
            Motion.MovesLeft => Between(random, reach + travel, width - reach),
            Motion.MovesRight => Between(random, reach, width - reach - travel),
            _ => Between(random, reach, width - reach),
        };
        double y = f.Motion switch
        {
            Motion.MovesUp or Motion.Bounces => Between(random, reach + travel, height - reach),
            Motion.MovesDown => Between(random, reach, height - reach - travel),
            _ => Between(random, reach, height - reach),
        };
        int spin = random.Chance(0.5) ? 1 : -1;
        var foreground = Palette.Of(f.Colour).Jittered(random, Palette.ObjectJitter);
        var background = Palette.Of(f.Background).Jittered(random, Palette.BackgroundJitter);
        return new SceneLayout(radius, x, y, travel, spin, foreground, background);
    }

    /// <summary>The pose at clip time <paramref name="t"/> ∈ [0, 1] (first frame 0, last frame 1).</summary>
    public Pose At(Motion motion, double t) => motion switch
    {
        Motion.MovesLeft => new(StartX - Travel * t, StartY, 0, 1),
        Motion.MovesRight => new(StartX + Travel * t, StartY, 0, 1),
        Motion.MovesUp => new(StartX, StartY - Travel * t, 0, 1),
        Motion.MovesDown => new(StartX, StartY + Travel * t, 0, 1),
        // Starts on the floor, two hops, lands at the end.
        Motion.Bounces => new(StartX, StartY - Travel * Math.Abs(Math.Sin(2 * Math.PI * t)), 0, 1),
        Motion.Rotates => new(StartX, StartY, Spin * Travel * t, 1),
        Motion.Grows => new(StartX, StartY, 0, GrowFrom + (GrowTo - GrowFrom) * t),
        _ => throw new ArgumentOutOfRangeException(nameof(motion)),
    };

    static double Between(SampleRandom random, double low, double high)
    {
        // The size and travel constants are chosen so every allowed frame size leaves room; no room is a bug here.
        if (high < low - 1e-9) throw new InvalidOperationException($"no room to place the object: [{low:F2}, {high:F2}]");
        return random.Uniform(low, Math.Max(low, high));
    }
}
