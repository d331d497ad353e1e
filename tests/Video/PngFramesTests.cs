using SkiaSharp;
using Turbo.Runtime;
using Turbo.Runtime.Video;
using Turbo.Tests.Support;

namespace Turbo.Tests.Video;

public class PngFramesTests : TempFolderFixture
{
    [Test]
    public void FrameRoundTripsExactly()
    {
        var frame = TestFrames.Random(37, 23, seed: 5);
        string path = Temp.PathTo("frame.png");
        PngFrames.Write(path, frame);
        Assert.That(Decode(path).Pixels, Is.EqualTo(frame.Pixels));
        Assert.That(Directory.GetFileSystemEntries(Temp.Path), Is.EqualTo(new[] { path }), "no temporary left");
    }

    [Test]
    public void FolderHoldsNumberedFramesInOrder()
    {
        var frames = Enumerable.Range(0, 3).Select(seed => TestFrames.Random(8, 6, seed)).ToList();
        string folder = Temp.PathTo("clip");
        PngFrames.WriteFolder(folder, frames);
        string[] files = Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.That(files, Is.EqualTo(new[] { "frame_0000.png", "frame_0001.png", "frame_0002.png" }));
        for (int i = 0; i < 3; i++) Assert.That(Decode(Path.Combine(folder, files[i])).Pixels, Is.EqualTo(frames[i].Pixels), files[i]);
        Assert.That(Directory.GetFileSystemEntries(Temp.Path), Is.EqualTo(new[] { folder }), "no temporary folder left");
    }

    [Test]
    public void ExistingFolderIsNotReplaced()
    {
        string folder = Temp.PathTo("clip");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "keep");
        var error = Assert.Throws<TurboException>(() => PngFrames.WriteFolder(folder, [TestFrames.Flat(2, 2, 0, 0, 0)]));
        Assert.That(error!.Message, Does.Contain("already exists"));
        Assert.That(Directory.GetFileSystemEntries(folder), Has.Length.EqualTo(1));
        Assert.That(Directory.GetFileSystemEntries(Temp.Path), Has.Length.EqualTo(1));
    }

    [Test]
    public void FramesOfMixedSizesAreRefusedAndLeaveNothing()
    {
        var error = Assert.Throws<TurboException>(() =>
            PngFrames.WriteFolder(Temp.PathTo("clip"), [TestFrames.Flat(4, 4, 0, 0, 0), TestFrames.Flat(4, 5, 0, 0, 0)]));
        Assert.That(error!.Message, Does.Contain("frame 1 is 4×5 but frame 0 is 4×4"));
        Assert.That(Directory.GetFileSystemEntries(Temp.Path), Is.Empty);
    }

    [Test]
    public void MissingFolderIsRefusedAndNothingIsCreated()
    {
        Assert.Throws<TurboException>(() => PngFrames.Write(Temp.PathTo("absent", "frame.png"), TestFrames.Flat(2, 2, 0, 0, 0)));
        Assert.Throws<TurboException>(() => PngFrames.WriteFolder(Temp.PathTo("absent", "clip"), [TestFrames.Flat(2, 2, 0, 0, 0)]));
        Assert.That(Directory.GetFileSystemEntries(Temp.Path), Is.Empty);
    }

    /// <summary>Decodes with Skia into RGBA, independently of the writer's own conversion.</summary>
    public static RgbFrame Decode(string path)
    {
        using var bitmap = SKBitmap.Decode(path);
        Assert.That(bitmap, Is.Not.Null, $"{path} is not a readable image");
        using var rgba = bitmap.Copy(SKColorType.Rgba8888);
        var pixels = new byte[bitmap.Width * bitmap.Height * 3];
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
            {
                var colour = rgba.GetPixel(x, y);
                (pixels[3 * (y * bitmap.Width + x)], pixels[3 * (y * bitmap.Width + x) + 1], pixels[3 * (y * bitmap.Width + x) + 2]) = (colour.Red, colour.Green, colour.Blue);
            }
        return new RgbFrame(bitmap.Width, bitmap.Height, pixels);
    }
}
