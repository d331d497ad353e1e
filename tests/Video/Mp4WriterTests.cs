using Turbo.Runtime;
using Turbo.Runtime.Video;
using Turbo.Tests.Support;

namespace Turbo.Tests.Video;

/// <summary>
/// ffmpeg itself is not on this machine, so most tests put a stand-in script named ffmpeg on PATH: one that copies
/// its input to the output file shows exactly which bytes and arguments the writer passes; others fail on purpose.
/// The real encode runs only where ffmpeg is installed.
/// </summary>
[NonParallelizable] // the tests change PATH for the whole process
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // the stand-ins are shell scripts
public class Mp4WriterTests : TempFolderFixture
{
    string? _path;

    [SetUp]
    public void RememberPath() => _path = Environment.GetEnvironmentVariable("PATH");

    [TearDown]
    public void RestorePath() => Environment.SetEnvironmentVariable("PATH", _path);

    [Test]
    public void ArgumentsDescribeRawInputAndEvenSizedH264Output()
    {
        var arguments = Mp4Writer.Arguments(33, 17, 12.5, "/out/.clip.tmp");
        string line = string.Join(" ", arguments);
        Assert.Multiple(() =>
        {
            Assert.That(line, Does.Contain("-f rawvideo -pix_fmt rgb24 -s 33x17 -r 12.5 -i -"));
            Assert.That(line, Does.Contain("-vf pad=ceil(iw/2)*2:ceil(ih/2)*2"));
            Assert.That(line, Does.Contain("-c:v libx264 -pix_fmt yuv420p"));
            Assert.That(arguments.TakeLast(3), Is.EqualTo(new[] { "-f", "mp4", "/out/.clip.tmp" }));
        });
    }

    [Test]
    public void AvailableOnlyWithAnExecutableOnPath()
    {
        string bin = FakeFfmpeg("exit 0");
        Environment.SetEnvironmentVariable("PATH", bin);
        Assert.That(Mp4Writer.IsAvailable, Is.True);
        File.SetUnixFileMode(Path.Combine(bin, "ffmpeg"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.That(Mp4Writer.IsAvailable, Is.False, "not executable");
        Environment.SetEnvironmentVariable("PATH", Temp.PathTo("nowhere"));
        Assert.That(Mp4Writer.IsAvailable, Is.False);
    }

    [Test]
    public void MissingFfmpegIsAClearError()
    {
        Environment.SetEnvironmentVariable("PATH", Temp.PathTo("nowhere"));
        var error = Assert.Throws<TurboException>(() => Mp4Writer.Write(Temp.PathTo("clip.mp4"), [TestFrames.Flat(2, 2, 0, 0, 0)], 10));
        Assert.That(error!.Message, Does.Contain("needs ffmpeg on PATH"));
        Assert.That(Directory.GetFileSystemEntries(Temp.Path), Is.Empty);
    }

    /// <summary>The stand-in writes its standard input to its last argument: the file must hold the frames' RGB bytes in order.</summary>
    [Test]
    public void FramesArePipedAsRawRgbAndTheOutputIsRenamedIntoPlace()
    {
        UseFakeFfmpeg("""for last; do :; done; cat > "$last" """);
        var frames = Enumerable.Range(0, 3).Select(seed => TestFrames.Random(6, 4, seed)).ToList();
        string path = Temp.PathTo("out", "clip.mp4");
        Directory.CreateDirectory(Temp.PathTo("out"));
        Mp4Writer.Write(path, frames, 16);
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(frames.SelectMany(f => f.Pixels).ToArray()));
        Assert.That(Directory.GetFileSystemEntries(Temp.PathTo("out")), Is.EqualTo(new[] { path }));
    }

    [Test]
    public void FfmpegErrorIsReportedAndLeavesNothing()
    {
        UseFakeFfmpeg("""cat > /dev/null; echo "Unknown encoder 'libx264'" >&2; exit 1""");
        var error = Assert.Throws<TurboException>(() => Mp4Writer.Write(Temp.PathTo("clip.mp4"), [TestFrames.Flat(2, 2, 0, 0, 0)], 10));
        Assert.That(error!.Message, Does.Contain("exit code 1").And.Contain("Unknown encoder 'libx264'"));
        Assert.That(Directory.GetFileSystemEntries(Temp.Path), Has.Length.EqualTo(1), "only the stand-in's folder");
    }

    /// <summary>An ffmpeg that quits without reading breaks the pipe mid-clip; a large frame makes sure the write hits it.</summary>
    [Test]
    public void FfmpegQuittingEarlyIsReportedAndLeavesNothing()
    {
        UseFakeFfmpeg("""for last; do :; done; echo partial > "$last"; echo "disk full" >&2; exit 3""");
        var frames = Enumerable.Range(0, 4).Select(_ => TestFrames.Flat(1024, 512, 1, 2, 3));
        var error = Assert.Throws<TurboException>(() => Mp4Writer.Write(Temp.PathTo("clip.mp4"), frames, 10));
        Assert.That(error!.Message, Does.Contain("exit code 3").And.Contain("disk full"));
        Assert.That(Directory.GetFileSystemEntries(Temp.Path), Has.Length.EqualTo(1), "only the stand-in's folder");
    }

    [Test]
    public void FrameOfAnotherSizeStopsFfmpegAndLeavesNothing()
    {
        UseFakeFfmpeg("""for last; do :; done; cat > "$last" """);
        var error = Assert.Throws<TurboException>(() =>
            Mp4Writer.Write(Temp.PathTo("clip.mp4"), [TestFrames.Flat(4, 4, 0, 0, 0), TestFrames.Flat(4, 6, 0, 0, 0)], 10));
        Assert.That(error!.Message, Does.Contain("frame 1 is 4×6 but frame 0 is 4×4"));
        Assert.That(Directory.GetFileSystemEntries(Temp.Path), Has.Length.EqualTo(1), "only the stand-in's folder");
    }

    [Test]
    public void RealFfmpegWritesAnMp4()
    {
        if (!Mp4Writer.IsAvailable) Assert.Ignore("ffmpeg is not on PATH on this machine; the stand-in tests above cover the piping");
        string path = Temp.PathTo("clip.mp4");
        Mp4Writer.Write(path, Enumerable.Range(0, 8).Select(seed => TestFrames.Shapes(33, 17, 4, seed)), 8); // odd size: padded
        byte[] bytes = File.ReadAllBytes(path);
        Assert.That(System.Text.Encoding.ASCII.GetString(bytes, 4, 4), Is.EqualTo("ftyp"), "an MP4 starts with its ftyp box");
    }

    /// <summary>Puts a stand-in ffmpeg (see <see cref="FakeFfmpeg"/>) first on PATH, keeping the rest for the commands it runs.</summary>
    void UseFakeFfmpeg(string body) => Environment.SetEnvironmentVariable("PATH", FakeFfmpeg(body) + Path.PathSeparator + _path);

    /// <summary>A folder holding an executable shell script named ffmpeg with <paramref name="body"/>.</summary>
    string FakeFfmpeg(string body)
    {
        string bin = Temp.PathTo("bin");
        Directory.CreateDirectory(bin);
        string script = Path.Combine(bin, "ffmpeg");
        File.WriteAllText(script, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return bin;
    }
}
