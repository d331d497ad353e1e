using Turbo.Runtime;
using static TorchSharp.torch;

namespace Turbo.Converter.Validation;

/// <summary>
/// How close one clip is to another, pixel by pixel, with values in [-1, 1] mapped to [0, 1] (peak 1): PSNR over the
/// whole clip, and SSIM (Wang et al. 2004: 11×11 Gaussian window, σ 1.5, K1 0.01, K2 0.03) per frame and channel,
/// averaged over the valid window positions. Computed in float64 on the CPU.
/// </summary>
public static class VideoMetrics
{
    const int Window = 11;
    const double Sigma = 1.5, C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;

    /// <summary>10·log10(1 / MSE) in dB; +∞ for identical clips.</summary>
    public static double Psnr(Tensor reference, Tensor clip)
    {
        using var scope = NewDisposeScope();
        var (a, b) = Prepare(reference, clip);
        double mse = (a - b).square().mean().item<double>();
        return mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(1 / mse);
    }

    /// <summary>Mean SSIM over frames and channels (1 for identical clips); frames must be at least 11×11.</summary>
    public static double Ssim(Tensor reference, Tensor clip)
    {
        using var scope = NewDisposeScope();
        var (a, b) = Prepare(reference, clip);
        if (a.shape[2] < Window || a.shape[3] < Window)
            throw new TurboException($"SSIM: frames of {a.shape[3]}×{a.shape[2]} are smaller than its {Window}×{Window} window");
        // [3, T, H, W] → [3·T, 1, H, W]: every frame of every channel is one image.
        var x = a.reshape(-1, 1, a.shape[2], a.shape[3]);
        var y = b.reshape(-1, 1, b.shape[2], b.shape[3]);
        var w = GaussianWindow();
        Tensor Blur(Tensor t) => nn.functional.conv2d(t, w);
        var muX = Blur(x);
        var muY = Blur(y);
        var varX = Blur(x * x) - muX * muX;
        var varY = Blur(y * y) - muY * muY;
        var cov = Blur(x * y) - muX * muY;
        var map = (2 * muX * muY + C1) * (2 * cov + C2) / ((muX * muX + muY * muY + C1) * (varX + varY + C2));
        return map.mean().item<double>();
    }

    static (Tensor A, Tensor B) Prepare(Tensor reference, Tensor clip)
    {
        if (reference.dim() != 4 || reference.shape[0] != 3 || !reference.shape.SequenceEqual(clip.shape))
            throw new TurboException($"clip metrics: expected two clips [3, T, H, W] of one shape, found [{string.Join(", ", reference.shape)}] and [{string.Join(", ", clip.shape)}]");
        return (Unit(reference), Unit(clip));
    }

    static Tensor Unit(Tensor clip) => ((clip.detach().to(ScalarType.Float64, CPU) + 1) / 2).clamp(0, 1);

    static Tensor GaussianWindow()
    {
        var offsets = arange(Window, dtype: ScalarType.Float64) - (Window - 1) / 2.0;
        var g = (-(offsets * offsets) / (2 * Sigma * Sigma)).exp();
        g = g / g.sum();
        return outer(g, g).reshape(1, 1, Window, Window);
    }
}
