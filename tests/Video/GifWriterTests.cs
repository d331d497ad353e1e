using Turbo.Runtime;
using Turbo.Runtime.Video;
using Turbo.Tests.Support;

namespace Turbo.Tests.Video;

public class GifWriterTests : TempFolderFixture
{
    [Test]
    public void FramesSizeLoopAndDelayReadBack()
    {
        string path = Temp.PathTo("clip.gif");
        var frames = Enumerable.Range(0, 5).Select(seed => TestFrames.Shapes(40, 24, 6, seed)).ToList();
        GifWriter.Write(path, frames, fps: 16);
        var gif = DecodedGif.Read(path);
        Assert.Multiple(() =>
        {
            Assert.That(gif.Frames, Has.Length.EqualTo(5));
            Assert.That((gif.Width, gif.Height), Is.EqualTo((40, 24)));
            Assert.That(gif.RepetitionCount, Is.EqualTo(-1), "Skia's 'forever': NETSCAPE2.0 loop count 0");
            Assert.That(gif.DurationsMs, Is.All.EqualTo(60), "16 fps → 6 hundredths");
        });
    }

    /// <summary>Frames of at most 256 colours keep every colour exactly; the counts straddle the table sizes (2^n) and LZW code widths.</summary>
    [TestCase(1, 1, 1)]
    [TestCase(8, 8, 2)]
    [TestCase(17, 9, 3)]
    [TestCase(32, 32, 5)]
    [TestCase(64, 48, 17)]
    [TestCase(128, 96, 129)]
    [TestCase(160, 120, 256)]
    public void FlatColouredFramesRoundTripExactly(int width, int height, int colours)
    {
        var frame = colours <= 64 ? TestFrames.Shapes(width, height, colours, seed: colours) : Gradient(width, height, colours);
        Assert.That(TestFrames.DistinctColours(frame), Is.EqualTo(colours), "test frame");
        string path = Temp.PathTo("flat.gif");
        GifWriter.Write(path, [frame, TestFrames.Flat(width, height, 9, 200, 77)], fps: 10);
        var gif = DecodedGif.Read(path);
        Assert.That(gif.Frames[0].Pixels, Is.EqualTo(frame.Pixels));
        Assert.That(gif.Frames[1].Pixels, Is.EqualTo(TestFrames.Flat(width, height, 9, 200, 77).Pixels));
    }

    /// <summary>
    /// Noise has far more than 256 colours, and its codes overflow LZW's 4096-entry table many times. Each decoded
    /// pixel must be the nearest of the frame's colours to the original (the palette's own error, no more), and
    /// the typical error must be what 256 well-placed colours give for uniform noise (cells about 40 levels wide).
    /// </summary>
    [Test]
    public void NoiseRoundTripsWithinThePalettesError()
    {
        var frames = new[] { TestFrames.Random(120, 90, seed: 1), TestFrames.Random(120, 90, seed: 2) };
        string path = Temp.PathTo("noise.gif");
        GifWriter.Write(path, frames, fps: 8);
        var gif = DecodedGif.Read(path);
        Assert.That(gif.Frames, Has.Length.EqualTo(2));
        for (int f = 0; f < frames.Length; f++)
        {
            var original = frames[f];
            var decoded = gif.Frames[f];
            var used = Enumerable.Range(0, decoded.Width * decoded.Height).Select(p => TestFrames.Pixel(decoded, p % decoded.Width, p / decoded.Width)).Distinct().ToArray();
            Assert.That(used, Has.Length.InRange(200, 256), "median cut spends the whole palette on noise");
            long totalError = 0;
            for (int p = 0; p < original.Width * original.Height; p++)
            {
                var o = TestFrames.Pixel(original, p % original.Width, p / original.Width);
                var d = TestFrames.Pixel(decoded, p % decoded.Width, p / decoded.Width);
                int best = used.Min(c => Distance(o, c));
                Assert.That(Distance(o, d), Is.EqualTo(best), $"frame {f} pixel {p}: {d} is not the nearest palette colour to {o}");
                totalError += Math.Abs(o.R - d.R) + Math.Abs(o.G - d.G) + Math.Abs(o.B - d.B);
            }
            double meanChannelError = totalError / (3.0 * original.Width * original.Height);
            Assert.That(meanChannelError, Is.LessThan(16), $"frame {f}: mean error per channel");
        }
    }

    [TestCase(10, 10)]
    [TestCase(16, 6)]
    [TestCase(24, 4)]
    [TestCase(0.5, 200)]
    [TestCase(50, 2)]
    [TestCase(120, 2)] // viewers slow delays under 2 to 10: 2 is the fastest that plays as written
    public void DelayIsHundredthsPerFrame(double fps, int hundredths) =>
        Assert.That(GifWriter.DelayHundredths(fps), Is.EqualTo(hundredths));

    [TestCase(0)]
    [TestCase(-5)]
    [TestCase(double.NaN)]
    [TestCase(double.PositiveInfinity)]
    public void NonPositiveFpsIsRefused(double fps)
    {
        var error = Assert.Throws<TurboException>(() => GifWriter.Write(Temp.PathTo("x.gif"), [TestFrames.Flat(2, 2, 0, 0, 0)], fps));
        Assert.That(error!.Message, Does.Contain("fps"));
        Assert.That(Directory.GetFileSystemEntries(Temp.Path), Is.Empty);
    }

    [Test]
    public void NoFramesIsRefusedAndLeavesNothing()
    {
        var error = Assert.Throws<TurboException>(() => GifWriter.Write(Temp.PathTo("x.gif"), [], 10));
        Assert.That(error!.Message, Does.Contain("no frames"));
        Assert.That(Directory.GetFileSystemEntries(Temp.Path), Is.Empty);
    }

    [Test]
    public void MissingFolderIsRefusedAndNothingIsCreated()
    {
        string path = Temp.PathTo("absent", "x.gif");
        var error = Assert.Throws<TurboException>(() => GifWriter.Write(path, [TestFrames.Flat(2, 2, 0, 0, 0)], 10));
        Assert.That(error!.Message, Does.Contain("does not exist"));
        Assert.That(Directory.GetFileSystemEntries(Temp.Path), Is.Empty);
    }

    /// <summary>A frame of another size arrives after two frames are already encoded: the previous file survives, no temporary is left.</summary>
    [Test]
    public void FailureMidWriteKeepsThePreviousFileAndLeavesNoTemporary()
    {
        string path = Temp.PathTo("clip.gif");
        GifWriter.Write(path, [TestFrames.Flat(8, 8, 1, 2, 3)], 10);
        byte[] previous = File.ReadAllBytes(path);
        var error = Assert.Throws<TurboException>(() => GifWriter.Write(path, FramesThenOddSize(), 10));
        Assert.That(error!.Message, Does.Contain("frame 2 is 9×8 but frame 0 is 8×8"));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(previous));
        Assert.That(Directory.GetFileSystemEntries(Temp.Path), Is.EqualTo(new[] { path }));
    }

    [Test]
    public void ExceptionFromTheFrameSourceLeavesNothing()
    {
        string path = Temp.PathTo("clip.gif");
        Assert.Throws<InvalidOperationException>(() => GifWriter.Write(path, FramesThenThrow(), 10));
        Assert.That(Directory.GetFileSystemEntries(Temp.Path), Is.Empty);
    }

    static IEnumerable<RgbFrame> FramesThenOddSize()
    {
        yield return TestFrames.Random(8, 8, 1);
        yield return TestFrames.Random(8, 8, 2);
        yield return TestFrames.Random(9, 8, 3);
    }

    static IEnumerable<RgbFrame> FramesThenThrow()
    {
        yield return TestFrames.Random(8, 8, 1);
        throw new InvalidOperationException("the model failed");
    }

    /// <summary>A frame of exactly <paramref name="colours"/> colours (grey-blue bands), for counts too large for rectangles.</summary>
    static RgbFrame Gradient(int width, int height, int colours)
    {
        var pixels = new byte[width * height * 3];
        for (int p = 0; p < width * height; p++)
        {
            int c = p * colours / (width * height);
            (pixels[3 * p], pixels[3 * p + 1], pixels[3 * p + 2]) = ((byte)c, (byte)(255 - c), (byte)(c * 7));
        }
        return new RgbFrame(width, height, pixels);
    }

    static int Distance((byte R, byte G, byte B) a, (byte R, byte G, byte B) b) =>
        (a.R - b.R) * (a.R - b.R) + (a.G - b.G) * (a.G - b.G) + (a.B - b.B) * (a.B - b.B);
}
