using Turbo.Converter.Validation;
using Turbo.Runtime;
using static TorchSharp.torch;

namespace Turbo.Tests.Conversion;

public class VideoMetricsTests
{
    static Tensor Clip(ulong seed) => rand([3, 2, 16, 16], generator: new Generator(seed)) * 2 - 1;

    [Test]
    public void IdenticalClipsHaveInfinitePsnrAndSsimOne()
    {
        using var clip = Clip(1);
        Assert.That(VideoMetrics.Psnr(clip, clip), Is.EqualTo(double.PositiveInfinity));
        Assert.That(VideoMetrics.Ssim(clip, clip), Is.EqualTo(1.0).Within(1e-12));
    }

    [Test]
    public void PsnrOfAConstantOffsetIsKnown()
    {
        using var clip = zeros(3, 2, 16, 16);
        using var shifted = clip + 0.2; // 0.1 on the [0, 1] scale: MSE 0.01, PSNR 20 dB (0.2 rounded to float32)
        Assert.That(VideoMetrics.Psnr(clip, shifted), Is.EqualTo(20.0).Within(1e-6));
    }

    [Test]
    public void SsimFallsWithNoiseAndIsSymmetric()
    {
        using var clip = Clip(2);
        using var slightly = (clip + randn(clip.shape, generator: new Generator(3)) * 0.02).clamp(-1, 1);
        using var badly = (clip + randn(clip.shape, generator: new Generator(4)) * 0.5).clamp(-1, 1);
        double near = VideoMetrics.Ssim(clip, slightly), far = VideoMetrics.Ssim(clip, badly);
        Assert.That(near, Is.GreaterThan(far).And.LessThan(1));
        Assert.That(VideoMetrics.Ssim(slightly, clip), Is.EqualTo(near).Within(1e-12));
        Assert.That(VideoMetrics.Psnr(clip, slightly), Is.GreaterThan(VideoMetrics.Psnr(clip, badly)));
    }

    [Test]
    public void MismatchedOrTinyClipsAreRefused()
    {
        using var a = zeros(3, 2, 16, 16);
        using var b = zeros(3, 2, 16, 8);
        using var tiny = zeros(3, 2, 8, 8);
        Assert.That(Assert.Throws<TurboException>(() => VideoMetrics.Psnr(a, b))!.Message, Does.Contain("one shape"));
        Assert.That(Assert.Throws<TurboException>(() => VideoMetrics.Ssim(tiny, tiny))!.Message, Does.Contain("window"));
    }
}
