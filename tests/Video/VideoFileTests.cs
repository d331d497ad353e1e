using Turbo.Runtime;
using Turbo.Runtime.Video;
using Turbo.Tests.Support;

namespace Turbo.Tests.Video;

public class VideoFileTests : TempFolderFixture
{
    [TestCase("clip.gif")]
    [TestCase("CLIP.GIF")]
    public void GifExtensionWritesAGif(string name)
    {
        var frames = Enumerable.Range(0, 3).Select(seed => TestFrames.Shapes(10, 8, 3, seed)).ToList();
        string path = Temp.PathTo(name);
        Assert.That(VideoFile.Write(path, frames, 10), Is.EqualTo(path));
        var gif = DecodedGif.Read(path);
        Assert.That(gif.Frames.Select(f => f.Pixels), Is.EqualTo(frames.Select(f => f.Pixels)));
    }

    [Test]
    public void PngWithOneFrameWritesOneFile()
    {
        var frame = TestFrames.Random(5, 7, seed: 3);
        string path = Temp.PathTo("still.png");
        Assert.That(VideoFile.Write(path, [frame], 10), Is.EqualTo(path));
        Assert.That(PngFramesTests.Decode(path).Pixels, Is.EqualTo(frame.Pixels));
    }

    [Test]
    public void PngWithManyFramesWritesAFolderNamedWithoutTheExtension()
    {
        var frames = Enumerable.Range(0, 2).Select(seed => TestFrames.Random(5, 7, seed)).ToList();
        string written = VideoFile.Write(Temp.PathTo("clip.png"), frames, 10);
        Assert.That(written, Is.EqualTo(Temp.PathTo("clip")));
        Assert.That(Directory.GetFiles(written).Select(Path.GetFileName).Order(), Is.EqualTo(new[] { "frame_0000.png", "frame_0001.png" }));
        Assert.That(File.Exists(Temp.PathTo("clip.png")), Is.False);
    }

    [TestCase("clip.avi", "unknown video extension '.avi'")]
    [TestCase("clip", "no extension")]
    public void OtherExtensionsAreRefusedNamingTheAcceptedOnes(string name, string said)
    {
        var error = Assert.Throws<TurboException>(() => VideoFile.Write(Temp.PathTo(name), [TestFrames.Flat(2, 2, 0, 0, 0)], 10));
        Assert.That(error!.Message, Does.Contain(said).And.Contain("(accepted: .gif, .mp4, .png)"));
        Assert.That(Directory.GetFileSystemEntries(Temp.Path), Is.Empty);
    }

    [Test]
    public void NoFramesIsRefusedForEveryFormat()
    {
        foreach (string name in new[] { "a.gif", "b.png" })
        {
            var error = Assert.Throws<TurboException>(() => VideoFile.Write(Temp.PathTo(name), [], 10));
            Assert.That(error!.Message, Does.Contain("no frames"), name);
        }
        Assert.That(Directory.GetFileSystemEntries(Temp.Path), Is.Empty);
    }
}
