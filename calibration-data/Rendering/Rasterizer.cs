namespace Turbo.CalibrationData.Rendering;

/// <summary>
/// Anti-aliased filling by signed distance: a pixel is covered by clamp(0.5 − d, 0, 1) where d is the signed
/// distance (pixels, negative inside) from its centre to the outline — a one-pixel box filter across the edge,
/// exact for any polygon, convex or not. Pixels surely outside the polygon's circumcircle or surely inside its
/// incircle skip the pass over the edges.
/// </summary>
public static class Rasterizer
{
    /// <summary>Blends <paramref name="colour"/> over the polygon's pixels; (centreX, centreY) must lie inside it.</summary>
    public static void FillPolygon(FramePlanes frame, ReadOnlySpan<(double X, double Y)> vertices, double centreX, double centreY, Rgb colour)
    {
        double minX = double.MaxValue, minY = double.MaxValue, maxX = double.MinValue, maxY = double.MinValue, outer = 0;
        foreach (var (x, y) in vertices)
        {
            minX = Math.Min(minX, x); maxX = Math.Max(maxX, x);
            minY = Math.Min(minY, y); maxY = Math.Max(maxY, y);
            outer = Math.Max(outer, (x - centreX) * (x - centreX) + (y - centreY) * (y - centreY));
        }
        double inner = -PolygonDistance(vertices, centreX, centreY);
        double outside = Square(Math.Sqrt(outer) + 0.5), covered = inner > 0.5 ? Square(inner - 0.5) : -1;
        var (x0, y0, x1, y1) = frame.Span(minX, minY, maxX, maxY);
        for (int py = y0; py <= y1; py++)
            for (int px = x0; px <= x1; px++)
            {
                double dx = px + 0.5 - centreX, dy = py + 0.5 - centreY, r2 = dx * dx + dy * dy;
                if (r2 >= outside) continue;
                float coverage = r2 <= covered ? 1 : Coverage(PolygonDistance(vertices, px + 0.5, py + 0.5));
                if (coverage > 0) frame.Blend(px, py, coverage, colour);
            }
    }

    public static void FillCircle(FramePlanes frame, double centreX, double centreY, double radius, Rgb colour)
    {
        var (x0, y0, x1, y1) = frame.Span(centreX - radius, centreY - radius, centreX + radius, centreY + radius);
        for (int py = y0; py <= y1; py++)
            for (int px = x0; px <= x1; px++)
            {
                double dx = px + 0.5 - centreX, dy = py + 0.5 - centreY;
                float coverage = Coverage(Math.Sqrt(dx * dx + dy * dy) - radius);
                if (coverage > 0) frame.Blend(px, py, coverage, colour);
            }
    }

    static float Coverage(double signedDistance) => (float)Math.Clamp(0.5 - signedDistance, 0, 1);

    static double Square(double x) => x * x;

    /// <summary>Signed distance from (px, py) to the polygon: distance to the nearest edge, negative inside (even–odd rule).</summary>
    public static double PolygonDistance(ReadOnlySpan<(double X, double Y)> v, double px, double py)
    {
        double nearest = double.MaxValue;
        bool inside = false;
        for (int i = 0, j = v.Length - 1; i < v.Length; j = i++)
        {
            double ex = v[j].X - v[i].X, ey = v[j].Y - v[i].Y;
            double wx = px - v[i].X, wy = py - v[i].Y;
            double along = Math.Clamp((wx * ex + wy * ey) / (ex * ex + ey * ey), 0, 1);
            double bx = wx - ex * along, by = wy - ey * along;
            nearest = Math.Min(nearest, bx * bx + by * by);
            // Crossing test of a ray from the point: flips once per edge that straddles the point's row on one side.
            bool above = py >= v[i].Y, below = py < v[j].Y, left = ex * wy > ey * wx;
            if ((above && below && left) || (!above && !below && !left)) inside = !inside;
        }
        return inside ? -Math.Sqrt(nearest) : Math.Sqrt(nearest);
    }
}
