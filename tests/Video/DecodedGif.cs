using SkiaSharp;
using Turbo.Runtime.Video;

namespace Turbo.Tests.Video;

/// <summary>A GIF as Skia's own decoder reads it: independent of our encoder, so a round trip tests both halves of the format.</summary>
sealed record DecodedGif(int Width, int Height, int RepetitionCount, int[] DurationsMs, RgbFrame[] Frames)
{
    public static DecodedGif Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.That(bytes.AsSpan(0, 6).ToArray(), Is.EqualTo("GIF89a"u8.ToArray()), "signature");
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        Assert.That(codec, Is.Not.Null, "Skia cannot read the file");
        Assert.That(codec.EncodedFormat, Is.EqualTo(SKEncodedImageFormat.Gif));
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        var frames = new RgbFrame[codec.FrameCount];
        for (int i = 0; i < frames.Length; i++)
        {
            // A frame that depends on an earlier one is drawn over it: the bitmap still holds the previous frame.
            var options = new SKCodecOptions(i, codec.FrameInfo[i].RequiredFrame);
            Assert.That(codec.GetPixels(info, bitmap.GetPixels(), options), Is.EqualTo(SKCodecResult.Success), $"frame {i}");
            frames[i] = RgbOf(bitmap);
        }
        return new DecodedGif(info.Width, info.Height, codec.RepetitionCount, codec.FrameInfo.Select(f => f.Duration).ToArray(), frames);
    }

    static RgbFrame RgbOf(SKBitmap bitmap)
    {
        var rgba = bitmap.GetPixelSpan();
        var pixels = new byte[bitmap.Width * bitmap.Height * 3];
        for (int p = 0; p < bitmap.Width * bitmap.Height; p++)
        {
            Assert.That(rgba[4 * p + 3], Is.EqualTo(255), "every pixel is opaque");
            rgba.Slice(4 * p, 3).CopyTo(pixels.AsSpan(3 * p));
        }
        return new RgbFrame(bitmap.Width, bitmap.Height, pixels);
    }
}
