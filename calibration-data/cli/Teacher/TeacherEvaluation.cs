using System.Diagnostics;
using System.Text.Json;
using Turbo.CalibrationData.Oracle;
using Turbo.CalibrationData.Shapes;
using Turbo.Converter.Pipelines;
using Turbo.Runtime;
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
        var scores = OracleQuality.Score(generated, prompts);
        return new ModelQuality(prompts.Count, scores.Adherence, scores.Frechet, scores.RealAdherence, scores.RealFrechet,
            scores.PerFactor, generateSeconds, sampling);
    }

    public static string Json(ModelQuality quality) => JsonSerializer.Serialize(quality, new JsonSerializerOptions { WriteIndented = true });

    /// <summary>An evaluation written by <see cref="Json"/> (e.g. measured on another machine), or a one-line error naming the file.</summary>
    public static ModelQuality ReadJson(string path)
    {
        if (!File.Exists(path)) throw new TurboException($"{path}: no such evaluation file");
        try
        {
            return JsonSerializer.Deserialize<ModelQuality>(File.ReadAllText(path)) is { PerFactor: not null, Sampling: not null } quality
                ? quality
                : throw new TurboException($"{path}: not an evaluation written by teacher-evaluate (quality.json)");
        }
        catch (JsonException e)
        {
            throw new TurboException($"{path}: not an evaluation written by teacher-evaluate ({e.Message})");
        }
    }
}
