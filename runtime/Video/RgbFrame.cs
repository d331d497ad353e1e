namespace Turbo.Runtime.Video;

/// <summary>One video frame as 8-bit RGB: <see cref="Pixels"/> holds Height rows of Width pixels, 3 bytes (R, G, B) each.</summary>
public sealed class RgbFrame
{
    public int Width { get; }
    public int Height { get; }
    public byte[] Pixels { get; }

    public RgbFrame(int width, int height, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (pixels.Length != (long)width * height * 3)
            throw new ArgumentException($"{width}×{height} RGB needs {(long)width * height * 3} bytes, got {pixels.Length}", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>The frames of a clip, checked to be at least one and all of one size; <paramref name="what"/> names them in errors.</summary>
    internal static IReadOnlyList<RgbFrame> RequireClip(IReadOnlyList<RgbFrame> frames, string what)
    {
        if (frames.Count == 0) throw new TurboException($"{what}: no frames");
        for (int i = 1; i < frames.Count; i++) RequireSameSize(frames[0], frames[i], i, what);
        return frames;
    }

    /// <summary>Throws unless <paramref name="frame"/> (number <paramref name="index"/>) has the size of <paramref name="first"/>.</summary>
    internal static void RequireSameSize(RgbFrame first, RgbFrame frame, int index, string what)
    {
        if (frame.Width != first.Width || frame.Height != first.Height)
            throw new TurboException($"{what}: frame {index} is {frame.Width}×{frame.Height} but frame 0 is {first.Width}×{first.Height}");
    }
}
