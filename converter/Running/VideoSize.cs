using Turbo.Runtime;

namespace Turbo.Converter.Running;

/// <summary>A video size and the Wan VAE latent it maps to (4× in time, causal first frame; 8× in space).</summary>
public sealed record VideoSize(string Name, int Width, int Height, int Frames)
{
    public static VideoSize Parse(string resolution, int frames)
    {
        if (frames < 1 || (frames - 1) % 4 != 0) throw new TurboException($"--frames {frames}: expected 4n+1 (e.g. 81)");
        return resolution.ToLowerInvariant() switch
        {
            "480p" => new VideoSize("480p", 832, 480, frames),
            "720p" => new VideoSize("720p", 1280, 720, frames),
            _ => throw new TurboException($"--resolution {resolution}: expected 480p or 720p"),
        };
    }

    /// <summary>[batch, channels, (F−1)/4 + 1, H/8, W/8].</summary>
    public long[] LatentShape(int channels, int batch = 1) => [batch, channels, (Frames - 1) / 4 + 1, Height / 8, Width / 8];
}
