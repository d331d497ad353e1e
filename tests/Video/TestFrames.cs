using Turbo.Runtime.Video;

namespace Turbo.Tests.Video;

/// <summary>Frames for the video tests: seeded random noise, flat colours, flat-coloured shapes.</summary>
static class TestFrames
{
    public static RgbFrame Random(int width, int height, int seed)
    {
        var pixels = new byte[width * height * 3];
        new Random(seed).NextBytes(pixels);
        return new RgbFrame(width, height, pixels);
    }

    public static RgbFrame Flat(int width, int height, byte r, byte g, byte b)
    {
        var pixels = new byte[width * height * 3];
        for (int i = 0; i < pixels.Length; i += 3) (pixels[i], pixels[i + 1], pixels[i + 2]) = (r, g, b);
        return new RgbFrame(width, height, pixels);
    }

    /// <summary>
    /// A synthetic-clip-like frame: a background and <paramref name="colours"/> − 1 flat rectangles at seeded
    /// places, every colour distinct, so exactly <paramref name="colours"/> colours (if no rectangle is fully covered).
    /// </summary>
    public static RgbFrame Shapes(int width, int height, int colours, int seed)
    {
        var random = new Random(seed);
        var palette = Enumerable.Range(0, colours).Select(i => (R: (byte)(i * 37), G: (byte)(i * 101 >> 1), B: (byte)(255 - i))).ToArray();
        var frame = Flat(width, height, palette[0].R, palette[0].G, palette[0].B);
        for (int c = 1; c < colours; c++)
        {
            int x0 = random.Next(width), y0 = random.Next(height);
            int x1 = Math.Min(width, x0 + 1 + random.Next(width / 3)), y1 = Math.Min(height, y0 + 1 + random.Next(height / 3));
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++)
                    (frame.Pixels[3 * (y * width + x)], frame.Pixels[3 * (y * width + x) + 1], frame.Pixels[3 * (y * width + x) + 2]) = palette[c];
        }
        return frame;
    }

    public static (byte R, byte G, byte B) Pixel(RgbFrame frame, int x, int y)
    {
        int i = 3 * (y * frame.Width + x);
        return (frame.Pixels[i], frame.Pixels[i + 1], frame.Pixels[i + 2]);
    }

    public static int DistinctColours(RgbFrame frame) =>
        Enumerable.Range(0, frame.Width * frame.Height).Select(p => Pixel(frame, p % frame.Width, p / frame.Width)).Distinct().Count();
}
