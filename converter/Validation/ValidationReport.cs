using System.Text.Json;
using System.Text.Json.Serialization;

namespace Turbo.Converter.Validation;

/// <summary>What to validate with (turbo-convert validate / the run's validate stage).</summary>
/// <param name="Prompts">how many prompts (spread over the list), one clip each from teacher and package</param>
/// <param name="PromptList">the list to draw from, or null for the judge's evaluation prompts</param>
/// <param name="Judge">auto, none, or a judge's name (<see cref="QualityJudges"/>)</param>
/// <param name="MinPsnr">gate: the mean PSNR of the package's clips against the teacher's must reach this (dB)</param>
/// <param name="MaxAdherenceDrop">gate: the judge's adherence may fall by at most this much (0–1) from teacher to package</param>
public sealed record ValidationOptions(int Prompts = 2, long Seed = 0, IReadOnlyList<string>? PromptList = null, string Judge = QualityJudges.Auto,
    double? MinPsnr = null, double? MaxAdherenceDrop = null);

/// <summary>One prompt: how close the package's clip is to the teacher's, and how long each took end to end.</summary>
public sealed record PromptResult(string Prompt, double PsnrDb, double Ssim, double TeacherSeconds, double PackageSeconds);

/// <summary>A sampler's measured speed: medians over the prompts of one clip each (batch 1).</summary>
public sealed record SamplingSpeed(string Solver, int Steps, int ForwardsPerStep, double SecondsPerStep, double DenoiseSeconds,
    double EncodeSeconds, double DecodeSeconds, double EndToEndSeconds);

public sealed record SpeedTable(SamplingSpeed Teacher, SamplingSpeed Package, double DenoiseSpeedup, double EndToEndSpeedup);

/// <summary>A judge's measures of the teacher's and the package's clips of the same prompts.</summary>
/// <param name="AdherenceDrop">teacher's adherence − package's (positive: the package follows prompts less)</param>
public sealed record JudgeTable(string Judge, JudgeScores Teacher, JudgeScores Package, double AdherenceDrop);

/// <param name="MeanPsnrDb">mean over prompts of the package's clip against the teacher's (+∞ when identical)</param>
public sealed record QualityTable(double MeanPsnrDb, double MinPsnrDb, double MeanSsim, JudgeTable? Judge);

/// <summary>A quality gate: passed when the value is on the right side of the threshold.</summary>
/// <param name="Option">the command-line option that set it</param>
public sealed record GateResult(string Name, string Option, double Threshold, double Value, bool Passed, string Line);

/// <summary>The result of a validation, as written to JSON (report.json) and shown in the HTML report.</summary>
public sealed record ValidationReport(
    string Package, string Teacher, string Device, long Seed, DateTimeOffset Date, int Frames, int Height, int Width,
    IReadOnlyList<PromptResult> Prompts, SpeedTable Speed, QualityTable Quality, IReadOnlyList<GateResult> Gates)
{
    /// <summary>The exit code of a validation whose gate failed (documented in docs/conversion.md).</summary>
    public const int GateFailedExitCode = 3;

    public bool Passed => Gates.All(g => g.Passed);

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        // Identical clips have a PSNR of +∞, which JSON numbers cannot hold: it is written as "Infinity".
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
