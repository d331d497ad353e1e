using SkiaSharp;

namespace Turbo.Runtime.Video;

/// <summary>Copies frames into and out of SkiaSharp bitmaps (RGBA, opaque), which Skia draws on and encodes.</summary>
static class SkiaFrames
{
    public static SKBitmap ToBitmap(RgbFrame frame)
    {
        var bitmap = new SKBitmap(new SKImageInfo(frame.Width, frame.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = bitmap.GetPixelSpan();
        int stride = bitmap.RowBytes;
        for (int y = 0; y < frame.Height; y++)
            for (int x = 0; x < frame.Width; x++)
            {
                int from = 3 * (y * frame.Width + x), to = y * stride + 4 * x;
                rgba[to] = frame.Pixels[from];
                rgba[to + 1] = frame.Pixels[from + 1];
                rgba[to + 2] = frame.Pixels[from + 2];
                rgba[to + 3] = 255;
            }
        return bitmap;
    }

    /// <summary>The RGB of a bitmap made by <see cref="ToBitmap"/> or with the same RGBA layout.</summary>
    public static RgbFrame FromBitmap(SKBitmap bitmap)
    {
        if (bitmap.ColorType != SKColorType.Rgba8888) throw new ArgumentException($"expected RGBA 8888, got {bitmap.ColorType}", nameof(bitmap));
        var rgba = bitmap.GetPixelSpan();
        int stride = bitmap.RowBytes, width = bitmap.Width, height = bitmap.Height;
        var pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int from = y * stride + 4 * x, to = 3 * (y * width + x);
                pixels[to] = rgba[from];
                pixels[to + 1] = rgba[from + 1];
                pixels[to + 2] = rgba[from + 2];
            }
        return new RgbFrame(width, height, pixels);
    }
}
