using System.Diagnostics;
using System.Text.Json;
using Turbo.CalibrationData.Oracle;
using Turbo.CalibrationData.Shapes;
using Turbo.Converter.Pipelines;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.CalibrationData.Teacher;

/// <summary>Quality of a Shapes text-to-video model against real clips of the same prompts, read by the oracle.</summary>
public sealed record ModelQuality(int Prompts, double Adherence, double Frechet, double RealAdherence, double RealFrechet,
    IReadOnlyDictionary<string, double> PerFactor, double GenerateSeconds, SampleSettings Sampling);

/// <summary>
/// The teacher's evaluation: one clip per prompt from the model (its own sampler), one real clip per prompt (factors
/// the prompt leaves out drawn at random) and a second real set for the ceiling. Prompt adherence is the share of
/// stated factors the oracle reads back; the Fréchet distance compares oracle features of generated and real clips.
/// The ceiling is the same two numbers for real clips: adherence of real set A, Fréchet distance real B ↔ real A.
/// </summary>
public static class TeacherEvaluation
{
    public const ulong RealSeedA = 4242, RealSeedB = 4243;

    public static (ModelQuality Quality, Tensor Generated) Run(WanTextToVideo pipeline, IReadOnlyList<string> prompts,
        SampleSettings sampling, int batch, long seed, Action<string> log)
    {
        var clock = Stopwatch.StartNew();
        var generated = new List<Tensor>();
        for (int start = 0; start < prompts.Count; start += batch)
        {
            var part = prompts.Skip(start).Take(batch).ToArray();
            generated.Add(pipeline.Generate(part, seed, sampling, firstIndex: start));
            log($"generated {start + part.Length}/{prompts.Count} clips ({clock.Elapsed.TotalSeconds:F0} s)");
        }
        double seconds = clock.Elapsed.TotalSeconds;
        var clips = cat(generated, 0);
        foreach (var g in generated) g.Dispose();
        return (Score(clips, prompts, seconds, sampling), clips);
    }

    public static ModelQuality Score(Tensor generated, IReadOnlyList<string> prompts, double generateSeconds, SampleSettings sampling)
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
        return new ModelQuality(prompts.Count, report.Adherence, FrechetDistance.Between(features, realFeatures),
            realReport.Adherence, FrechetDistance.Between(realFeaturesB, realFeatures),
            FactorRules.All.ToDictionary(f => f.ToString().ToLowerInvariant(), f => report.Accuracy(f)), generateSeconds, sampling);
    }

    static Tensor RealClips(IReadOnlyList<string> prompts, ulong seed, ShapesOptions options)
    {
        var dataset = new ShapesDataset(seed, options);
        var clips = prompts.Select(p => dataset.ClipFor(p, 0).Video).ToArray();
        var stacked = stack(clips);
        foreach (var c in clips) c.Dispose();
        return stacked;
    }

    public static string Json(ModelQuality quality) => JsonSerializer.Serialize(quality, new JsonSerializerOptions { WriteIndented = true });
}
