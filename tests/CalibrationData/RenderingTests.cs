using Turbo.CalibrationData.Rendering;
using Turbo.CalibrationData.Shapes;
using static TorchSharp.torch;

namespace Turbo.Tests.CalibrationData;

public sealed class RenderingTests : TensorScopePerTest
{
    static readonly ShapesOptions Options = new(Frames: 17, Height: 64, Width: 64);
    static readonly Rgb Red = Palette.Of(ShapeColour.Red), Black = Palette.Of(Backdrop.Black);

    /// <summary>A clip with exact geometry and colours: radius 10 px, starting at the centre.</summary>
    static float[] Render(ShapeKind shape, Motion motion, double travel = 20, double startY = 32)
    {
        var factors = new ShapeFactors(shape, ShapeColour.Red, ShapeSize.Large, Backdrop.Black, motion, FactorRules.HasSpeed(motion) ? Speed.Slowly : null);
        var layout = new SceneLayout(Radius: 10, StartX: 32, StartY: startY, Travel: travel, Spin: 1, Foreground: Red, Background: Black);
        var buffer = new float[3 * Options.Frames * Options.Height * Options.Width];
        ClipRenderer.Render(factors, layout, Options, buffer);
        return buffer;
    }

    /// <summary>Per pixel of one frame, the share covered by the object, from the red channel (red vs black differs most there).</summary>
    static double[,] Coverage(float[] clip, int frame)
    {
        int h = Options.Height, w = Options.Width;
        var coverage = new double[h, w];
        float background = 2 * Black.R - 1, foreground = 2 * Red.R - 1;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                coverage[y, x] = (clip[(frame * h + y) * w + x] - background) / (foreground - background);
        return coverage;
    }

    static (double Area, double X, double Y) Moments(double[,] coverage)
    {
        double area = 0, sx = 0, sy = 0;
        for (int y = 0; y < coverage.GetLength(0); y++)
            for (int x = 0; x < coverage.GetLength(1); x++)
            {
                area += coverage[y, x];
                sx += coverage[y, x] * (x + 0.5);
                sy += coverage[y, x] * (y + 0.5);
            }
        return (area, sx / area, sy / area);
    }

    static double ShoelaceArea(IReadOnlyList<(double X, double Y)> v) =>
        Math.Abs(Enumerable.Range(0, v.Count).Sum(i => v[i].X * v[(i + 1) % v.Count].Y - v[(i + 1) % v.Count].X * v[i].Y)) / 2;

    [TestCase(ShapeKind.Circle)]
    [TestCase(ShapeKind.Square)]
    [TestCase(ShapeKind.Triangle)]
    [TestCase(ShapeKind.Star)]
    [TestCase(ShapeKind.Cross)]
    public void CoveredAreaEqualsTheShapesTrueArea(ShapeKind shape)
    {
        var (area, x, y) = Moments(Coverage(Render(shape, Motion.MovesRight, travel: 0), 0));
        double expected = shape == ShapeKind.Circle ? Math.PI * 100 : ShoelaceArea(ShapeOutline.Vertices(shape)) * 100;
        Assert.That(area, Is.EqualTo(expected).Within(0.01).Percent.Or.EqualTo(expected).Within(1.0));
        Assert.That(x, Is.EqualTo(32).Within(0.05), "a symmetric shape is centred on its position");
        if (shape is ShapeKind.Circle or ShapeKind.Square or ShapeKind.Cross) Assert.That(y, Is.EqualTo(32).Within(0.05));
    }

    [Test]
    public void EdgesAreAntiAliasedAndTheInsideIsTheExactColour()
    {
        var coverage = Coverage(Render(ShapeKind.Circle, Motion.MovesRight, travel: 0), 0);
        Assert.That(coverage[32, 32], Is.EqualTo(1).Within(1e-6));
        Assert.That(coverage[0, 0], Is.EqualTo(0).Within(1e-6));
        int partial = 0;
        foreach (double c in coverage) if (c > 0.02 && c < 0.98) partial++;
        Assert.That(partial, Is.GreaterThan(30), "a circle of radius 10 has a soft rim");
    }

    [TestCase(Motion.MovesLeft, -20, 0)]
    [TestCase(Motion.MovesRight, 20, 0)]
    [TestCase(Motion.MovesUp, 0, -20)]
    [TestCase(Motion.MovesDown, 0, 20)]
    public void StraightMovesCoverTheirTravelOverTheClip(Motion motion, double dx, double dy)
    {
        var clip = Render(ShapeKind.Square, motion);
        var first = Moments(Coverage(clip, 0));
        var last = Moments(Coverage(clip, Options.Frames - 1));
        Assert.That(last.X - first.X, Is.EqualTo(dx).Within(0.05));
        Assert.That(last.Y - first.Y, Is.EqualTo(dy).Within(0.05));
        Assert.That(last.Area, Is.EqualTo(first.Area).Within(0.5).Percent);
    }

    [Test]
    public void BouncingHopsTwiceAndLands()
    {
        var clip = Render(ShapeKind.Circle, Motion.Bounces, travel: 15, startY: 50);
        double Y(int frame) => Moments(Coverage(clip, frame)).Y;
        Assert.That(Y(0), Is.EqualTo(50).Within(0.05));
        Assert.That(Y(4), Is.EqualTo(35).Within(0.05), "top of the first hop at a quarter of the clip");
        Assert.That(Y(8), Is.EqualTo(50).Within(0.05));
        Assert.That(Y(12), Is.EqualTo(35).Within(0.05));
        Assert.That(Y(16), Is.EqualTo(50).Within(0.05));
    }

    [Test]
    public void GrowingScalesTheAreaByTheSquareOfTheRadius()
    {
        var clip = Render(ShapeKind.Circle, Motion.Grows);
        double ratio = Moments(Coverage(clip, Options.Frames - 1)).Area / Moments(Coverage(clip, 0)).Area;
        double expected = Math.Pow(SceneLayout.GrowTo / SceneLayout.GrowFrom, 2);
        Assert.That(ratio, Is.EqualTo(expected).Within(1).Percent);
    }

    [Test]
    public void RotatingTurnsTheShapeInPlace()
    {
        // Travel 90° over 16 frame steps: frame 8 is turned 45°, where a square differs most from upright.
        var clip = Render(ShapeKind.Square, Motion.Rotates, travel: Math.PI / 2);
        var upright = Coverage(clip, 0);
        var turned = Coverage(clip, 8);
        var done = Coverage(clip, 16);
        double changed = 0, back = 0;
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
            {
                changed += Math.Abs(turned[y, x] - upright[y, x]);
                back += Math.Abs(done[y, x] - upright[y, x]);
            }
        Assert.That(changed, Is.GreaterThan(40), "45° turned square differs from the upright one");
        Assert.That(back, Is.LessThan(0.5), "a quarter turn brings a square back to itself");
        // The edge filter is exact for axis-aligned edges and within about 1% of the area for diagonal ones.
        Assert.That(Moments(turned).Area, Is.EqualTo(Moments(upright).Area).Within(2).Percent);
        Assert.That(Moments(turned).X, Is.EqualTo(32).Within(0.05));
    }

    [Test]
    public void SignedDistanceOfASquareIsExact()
    {
        (double, double)[] square = [(0, 0), (10, 0), (10, 10), (0, 10)];
        Assert.That(Rasterizer.PolygonDistance(square, 5, 5), Is.EqualTo(-5).Within(1e-12));
        Assert.That(Rasterizer.PolygonDistance(square, 15, 5), Is.EqualTo(5).Within(1e-12));
        Assert.That(Rasterizer.PolygonDistance(square, 13, 14), Is.EqualTo(5).Within(1e-12));
        Assert.That(Rasterizer.PolygonDistance(square, 2, 9), Is.EqualTo(-1).Within(1e-12));
    }

    [TestCase(64, 64)]
    [TestCase(32, 32)]
    [TestCase(32, 128)]
    public void EveryObjectStaysInsideTheFrameAllClipLong(int height, int width)
    {
        using var scope = NewDisposeScope();
        var dataset = new ShapesDataset(21, new ShapesOptions(Frames: 9, Height: height, Width: width));
        for (int i = 0; i < 150; i++)
        {
            using var sample = dataset.Sample(i % 2 == 0 ? ShapesSplit.Train : ShapesSplit.HeldOut, i);
            var v = sample.Video; // [3, T, H, W]
            // The border of every frame is pure background: equal to the top-left pixel of the first frame.
            var corner = v[.., 0, 0, 0].reshape(3, 1, 1);
            foreach (var border in new[] { v[.., .., 0, ..], v[.., .., -1, ..], v[.., .., .., 0], v[.., .., .., -1] })
                Assert.That(border.sub(corner).abs().max().item<float>(), Is.EqualTo(0f), sample.Caption);
        }
    }

    [Test]
    public void SmallObjectsAreAtLeastTwelvePixelsAcrossAt64()
    {
        using var scope = NewDisposeScope();
        var dataset = new ShapesDataset(22);
        int seen = 0;
        for (int i = 0; seen < 40; i++)
        {
            using var sample = dataset.Sample(ShapesSplit.Train, i);
            if (sample.Factors.Size != ShapeSize.Small || sample.Factors.Motion == Motion.Grows) continue;
            seen++;
            // Pixels differing from the background in the first frame: the object's extent.
            var frame = sample.Video[.., 0];
            var mask = frame.sub(frame[.., 0, 0].reshape(3, 1, 1)).abs().amax([0]).gt(0.25f);
            long rows = mask.any(1).sum().item<long>(), cols = mask.any(0).sum().item<long>();
            Assert.That(Math.Max(rows, cols), Is.GreaterThanOrEqualTo(12), sample.Caption);
        }
    }
}
