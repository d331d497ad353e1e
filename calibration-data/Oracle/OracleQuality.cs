using Turbo.CalibrationData.Shapes;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.CalibrationData.Oracle;

/// <summary>A set of generated clips as the oracle sees it, beside real clips of the same prompts.</summary>
/// <param name="Adherence">share of the stated factors the oracle reads back from the generated clips</param>
/// <param name="Frechet">Fréchet distance of the generated clips' oracle features to real set A</param>
/// <param name="RealAdherence">the same share for real set A (the ceiling)</param>
/// <param name="RealFrechet">Fréchet distance real set B ↔ real set A (the floor)</param>
/// <param name="PerFactor">adherence per factor (lowercase factor name)</param>
public sealed record OracleScores(double Adherence, double Frechet, double RealAdherence, double RealFrechet, IReadOnlyDictionary<string, double> PerFactor);

/// <summary>
/// Scores clips generated for Shapes prompts with the committed oracle: one real clip per prompt (factors the
/// prompt leaves out drawn at random) for set A and another for set B, rendered at the generated clips' size.
/// </summary>
public static class OracleQuality
{
    public const ulong RealSeedA = 4242, RealSeedB = 4243;

    /// <param name="generated">clips [N, 3, T, H, W] in [-1, 1], clip i for prompt i</param>
    public static OracleScores Score(Tensor generated, IReadOnlyList<string> prompts)
    {
        using var scope = NewDisposeScope();
        using var pause = CollectionPause.Begin();
        var stated = prompts.Select(Captions.Parse).ToList();
        using var oracle = ShapesOracle.Load(ShapesOracle.DefaultPath);
        var options = new ShapesOptions(Frames: (int)generated.shape[2], Height: (int)generated.shape[3], Width: (int)generated.shape[4]);
        var realA = RealClips(prompts, RealSeedA, options);
        var realB = RealClips(prompts, RealSeedB, options);
        var (readings, features) = oracle.Read(generated);
        var report = AdherenceReport.Score(readings, stated);
        var (realReadings, realFeatures) = oracle.Read(realA);
        var realReport = AdherenceReport.Score(realReadings, stated);
        var realFeaturesB = oracle.Features(realB);
        return new OracleScores(report.Adherence, FrechetDistance.Between(features, realFeatures),
            realReport.Adherence, FrechetDistance.Between(realFeaturesB, realFeatures),
            FactorRules.All.ToDictionary(f => f.ToString().ToLowerInvariant(), f => report.Accuracy(f)));
    }

    /// <summary>One real clip per prompt (the factors it leaves out drawn from <paramref name="seed"/>), [N, 3, T, H, W] in [-1, 1].</summary>
    public static Tensor RealClips(IReadOnlyList<string> prompts, ulong seed, ShapesOptions options)
    {
        var dataset = new ShapesDataset(seed, options);
        var clips = prompts.Select(p => dataset.ClipFor(p, 0).Video).ToArray();
        var stacked = stack(clips);
        foreach (var c in clips) c.Dispose();
        return stacked;
    }
}
