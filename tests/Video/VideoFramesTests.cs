using Turbo.Runtime;
using Turbo.Runtime.Video;
using static TorchSharp.torch;

namespace Turbo.Tests.Video;

public class VideoFramesTests
{
    /// <summary>round((x + 1) / 2 · 255), clamped: both ends, the middle (127.5 rounds to even, 128), and values outside [-1, 1].</summary>
    [Test]
    public void ValuesMapToBytesAndClamp()
    {
        float[] values = [-1f, -0.5f, 0f, 0.5f, 1f, 2f, -3f, 0.999f];
        byte[] expected = [0, 64, 128, 191, 255, 255, 0, 255];
        // One frame of 1 × 8 pixels, every channel the same value.
        using var row = tensor(values).reshape(1, 1, 1, 8);
        using var clip = row.expand(3, 1, 1, 8).contiguous();
        var frames = VideoFrames.FromClip(clip);
        Assert.That(frames, Has.Length.EqualTo(1));
        Assert.That((frames[0].Width, frames[0].Height), Is.EqualTo((8, 1)));
        Assert.That(frames[0].Pixels, Is.EqualTo(expected.SelectMany(b => new[] { b, b, b }).ToArray()));
    }

    /// <summary>Channel c of frame t at (y, x) is clip[c, t, y, x]: checked on random values against the formula per element.</summary>
    [Test]
    public void LayoutIsFrameRowColumnChannel()
    {
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator(7);
        var clip = rand([3, 4, 5, 6], generator: generator) * 2.4f - 1.2f;
        float[] values = clip.data<float>().ToArray();
        var frames = VideoFrames.FromClip(clip);
        Assert.That(frames, Has.Length.EqualTo(4));
        for (int t = 0; t < 4; t++)
            for (int y = 0; y < 5; y++)
                for (int x = 0; x < 6; x++)
                    for (int c = 0; c < 3; c++)
                    {
                        float v = values[((c * 4 + t) * 5 + y) * 6 + x];
                        byte expected = (byte)Math.Clamp(MathF.Round((v + 1) / 2 * 255), 0, 255);
                        Assert.That(frames[t].Pixels[3 * (y * 6 + x) + c], Is.EqualTo(expected), $"t={t} y={y} x={x} c={c} v={v}");
                    }
    }

    [TestCase(ScalarType.Float16)]
    [TestCase(ScalarType.BFloat16)]
    [TestCase(ScalarType.Float64)]
    public void OtherFloatTypesAreRead(ScalarType dtype)
    {
        using var clip = full([3, 2, 2, 2], 1.0, dtype);
        Assert.That(VideoFrames.FromClip(clip).SelectMany(f => f.Pixels), Is.All.EqualTo(255));
    }

    [TestCase(new long[] { 3, 4, 5 }, "[3, 4, 5]")]
    [TestCase(new long[] { 4, 2, 8, 8 }, "[4, 2, 8, 8]")]
    [TestCase(new long[] { 1, 3, 2, 8, 8 }, "[1, 3, 2, 8, 8]")]
    [TestCase(new long[] { 3, 0, 8, 8 }, "[3, 0, 8, 8]")]
    [TestCase(new long[] { 3, 2, 8, 0 }, "[3, 2, 8, 0]")]
    public void BadShapesAreRefusedWithTheShape(long[] shape, string shown)
    {
        using var clip = zeros(shape);
        var error = Assert.Throws<TurboException>(() => VideoFrames.FromClip(clip));
        Assert.That(error!.Message, Does.StartWith("clip: expected [3, frames, height, width]").And.EndWith($"found {shown}"));
        Assert.That(error.Message, Does.Not.Contain('\n'));
    }

    [Test]
    public void IntegerClipsAreRefused()
    {
        using var clip = zeros([3, 1, 2, 2], ScalarType.Byte);
        var error = Assert.Throws<TurboException>(() => VideoFrames.FromClip(clip));
        Assert.That(error!.Message, Does.StartWith("clip: expected floating-point values").And.Contain("Byte"));
    }

    [Test]
    public void NaNIsRefused()
    {
        using var clip = zeros([3, 2, 2, 2]);
        clip[1, 1, 0, 1] = tensor(float.NaN);
        var error = Assert.Throws<TurboException>(() => VideoFrames.FromClip(clip));
        Assert.That(error!.Message, Is.EqualTo("clip: contains NaN values"));
    }
}
