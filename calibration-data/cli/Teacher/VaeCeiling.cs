using System.Diagnostics;
using System.Text.Json;
using Turbo.CalibrationData.Oracle;
using Turbo.CalibrationData.Shapes;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.CalibrationData.Teacher;

/// <summary>What a model's VAE leaves of real clips, read by the oracle: the most any DiT could reach through it.</summary>
/// <param name="Psnr">PSNR of the reconstructions against the clips (dB, pixels in [-1, 1])</param>
/// <param name="Scores">the reconstructions scored as generated clips: adherence, per factor, Fréchet distance to real set A</param>
public sealed record VaeCeiling(int Prompts, double Psnr, OracleScores Scores, double Seconds)
{
    public string Json() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true });
}

/// <summary>
/// Real set B's clips of the evaluation prompts (<see cref="OracleQuality"/>), encoded by the VAE and decoded from the
/// posterior mean, then scored against real set A as generated clips are: beside the real clips' own numbers (set A's
/// adherence, set B ↔ A's Fréchet distance) this separates what the VAE loses from what the DiT does.
/// </summary>
public static class VaeCeilingEvaluation
{
    public static VaeCeiling Run(WanVae vae, IReadOnlyList<string> prompts, ShapesOptions clips, int batch, Action<string> log)
    {
        var clock = Stopwatch.StartNew();
        using var noGrad = no_grad();
        using var real = OracleQuality.RealClips(prompts, OracleQuality.RealSeedB, clips);
        var parts = new List<Tensor>();
        double squaredError = 0;
        for (long start = 0; start < real.shape[0]; start += batch)
        {
            using var scope = NewDisposeScope();
            var videos = real.narrow(0, start, Math.Min(batch, real.shape[0] - start));
            var decoded = vae.Decode(vae.Encode(videos.to(vae.Device), wholeClip: true).Mean, wholeClip: true).cpu();
            squaredError += (decoded.to(ScalarType.Float64) - videos.to(ScalarType.Float64)).square().sum().item<double>();
            parts.Add(decoded.MoveToOuterDisposeScope());
            log($"reconstructed {start + videos.shape[0]}/{real.shape[0]} clips ({clock.Elapsed.TotalSeconds:F0} s)");
        }
        using var reconstructed = cat(parts, 0);
        foreach (var p in parts) p.Dispose();
        double psnr = 10 * Math.Log10(4 / (squaredError / real.numel())); // peak-to-peak 2
        return new VaeCeiling(prompts.Count, psnr, OracleQuality.Score(reconstructed, prompts), clock.Elapsed.TotalSeconds);
    }
}
