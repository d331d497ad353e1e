using Turbo.CalibrationData.Shapes;

namespace Turbo.CalibrationData.Rendering;

/// <summary>
/// Each shape as an upright polygon in units of the object's nominal radius (image axes: y points down), sized
/// so all shapes look about as big as a circle of that radius. The circle is drawn exactly, not as a polygon.
/// </summary>
public static class ShapeOutline
{
    static readonly (double X, double Y)[] Square = [(-0.9, -0.9), (0.9, -0.9), (0.9, 0.9), (-0.9, 0.9)];
    static readonly (double X, double Y)[] Triangle = Regular(3, 1.35, 1.35);
    static readonly (double X, double Y)[] Star = Regular(5, 1.35, 0.55);
    static readonly (double X, double Y)[] Cross =
    [
        (-0.4, -1.15), (0.4, -1.15), (0.4, -0.4), (1.15, -0.4), (1.15, 0.4), (0.4, 0.4),
        (0.4, 1.15), (-0.4, 1.15), (-0.4, 0.4), (-1.15, 0.4), (-1.15, -0.4), (-0.4, -0.4),
    ];

    /// <summary>The polygon's vertices, or an empty list for the circle.</summary>
    public static IReadOnlyList<(double X, double Y)> Vertices(ShapeKind shape) => shape switch
    {
        ShapeKind.Circle => [],
        ShapeKind.Square => Square,
        ShapeKind.Triangle => Triangle,
        ShapeKind.Star => Star,
        ShapeKind.Cross => Cross,
        _ => throw new ArgumentOutOfRangeException(nameof(shape)),
    };

    /// <summary>The distance from the centre to the farthest point, in nominal radii: what must fit in the frame at any angle.</summary>
    public static double BoundingRadius(ShapeKind shape) =>
        shape == ShapeKind.Circle ? 1.0 : Vertices(shape).Max(v => Math.Sqrt(v.X * v.X + v.Y * v.Y));

    /// <summary>A star (inner ≠ outer) or regular polygon (inner = outer) with one point straight up.</summary>
    static (double X, double Y)[] Regular(int points, double outer, double inner)
    {
        bool star = inner != outer;
        int count = star ? 2 * points : points;
        var vertices = new (double X, double Y)[count];
        for (int i = 0; i < count; i++)
        {
            double angle = -Math.PI / 2 + 2 * Math.PI * i / count;
            double radius = star && i % 2 == 1 ? inner : outer;
            vertices[i] = (radius * Math.Cos(angle), radius * Math.Sin(angle));
        }
        return vertices;
    }
}
