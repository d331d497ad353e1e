using System.Globalization;
using Turbo.Converter.Conversion;
using Turbo.Converter.Pipelines;
using Turbo.Quantizer;
using Turbo.Runtime;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Converter.Validation;

/// <summary>A validation's report and the clips it compared (teacher's and package's, [N, 3, T, H, W]; disposed with it).</summary>
public sealed record ValidationRun(ValidationReport Report, IReadOnlyList<string> Prompts, Tensor TeacherClips, Tensor PackageClips) : IDisposable
{
    public void Dispose()
    {
        TeacherClips.Dispose();
        PackageClips.Dispose();
    }
}

/// <summary>
/// The package against its teacher on the same prompts and seeds, one clip at a time (batch 1, as a user generates):
/// the teacher with its own sampler, the package with its own; each clip's wall time by part (prompt encoding,
/// denoising, decoding); the package's clips against the teacher's (PSNR, SSIM); the judge's measures of both where
/// the teacher has a judge; and the gates.
/// </summary>
public static class Validator
{
    public static ValidationRun Run(string package, string teacher, ValidationOptions options, Device device, IStageProgress progress)
    {
        var (judge, prompts) = Check(options, teacher);
        var manifest = Runtime.Packaging.PackageFolder.Open(package); // a damaged package is refused before the teacher's long run

        var (teacherClips, teacherTimes, teacherSettings) = Generate("teacher", () => WanTextToVideo.Load(teacher, device, ScalarType.Float32), prompts, options.Seed, progress, null);
        Tensor? packageClips = null;
        try
        {
            (packageClips, var packageTimes, var packageSettings) = Generate("package", () => WanTextToVideo.LoadPackage(package, device, ScalarType.Float32, manifest),
                prompts, options.Seed, progress, teacherSettings);
            using var pause = CollectionPause.Begin();
            var results = prompts.Select((p, i) => new PromptResult(p,
                VideoMetrics.Psnr(teacherClips[i], packageClips[i]), VideoMetrics.Ssim(teacherClips[i], packageClips[i]),
                teacherTimes[i].TotalSeconds, packageTimes[i].TotalSeconds)).ToList();

            JudgeTable? judged = null;
            if (judge is not null)
            {
                progress.Begin($"judge ({judge.Name})", 2);
                var teacherScores = judge.Score(teacherClips, prompts);
                progress.Advance(1);
                var packageScores = judge.Score(packageClips, prompts);
                progress.Advance(1);
                judged = new JudgeTable(judge.Name, teacherScores, packageScores, teacherScores.Adherence - packageScores.Adherence);
            }
            var teacherSpeed = Speed(teacherSettings, teacherTimes);
            var packageSpeed = Speed(packageSettings, packageTimes);
            var quality = new QualityTable(results.Average(r => r.PsnrDb), results.Min(r => r.PsnrDb), results.Average(r => r.Ssim), judged);
            var report = new ValidationReport(Path.GetFullPath(package), Path.GetFullPath(teacher), device.ToString(), options.Seed, DateTimeOffset.UtcNow,
                teacherSettings.Frames, teacherSettings.Height, teacherSettings.Width, results,
                new SpeedTable(teacherSpeed, packageSpeed, teacherSpeed.DenoiseSeconds / packageSpeed.DenoiseSeconds,
                    teacherSpeed.EndToEndSeconds / packageSpeed.EndToEndSeconds),
                quality, Gates(options, quality));
            return new ValidationRun(report, prompts, teacherClips, packageClips);
        }
        catch
        {
            teacherClips.Dispose();
            packageClips?.Dispose();
            throw;
        }
    }

    /// <summary>The judge and the prompts a validation will use; a TurboException for options that cannot work (before any work).</summary>
    public static (IQualityJudge? Judge, IReadOnlyList<string> Prompts) Check(ValidationOptions options, string teacher)
    {
        var judge = QualityJudges.Resolve(options.Judge, teacher);
        if (options.MaxAdherenceDrop is not null && judge is null)
            throw new TurboException($"--gate-max-adherence-drop needs a quality judge, and none applies to {teacher} (--judge {options.Judge})");
        if (options.MinPsnr is { } psnr && !double.IsFinite(psnr)) throw new TurboException($"--gate-min-psnr {psnr}: expected a number of dB");
        if (options.MaxAdherenceDrop is { } drop && !(drop >= 0 && drop <= 1)) throw new TurboException($"--gate-max-adherence-drop {drop}: expected a share from 0 to 1");
        var list = options.PromptList ?? PromptChoice.Source(null, judge, j => j.EvaluationPrompts, "--prompts-file");
        return (judge, PromptChoice.Spread(list, options.Prompts, "validation"));
    }

    /// <summary>
    /// One clip per prompt with the model's own sampler (batch 1), prompt i from the noise of (seed, i); the package
    /// generates at the teacher's clip size so its clips compare pixel for pixel.
    /// </summary>
    static (Tensor Clips, List<GeneratedTimes> Times, SampleSettings Settings) Generate(string who, Func<WanTextToVideo> load,
        IReadOnlyList<string> prompts, long seed, IStageProgress progress, SampleSettings? size)
    {
        using var pipeline = load();
        var settings = size is null ? pipeline.Defaults
            : pipeline.Defaults with { Frames = size.Frames, Height = size.Height, Width = size.Width };
        progress.Begin(string.Create(CultureInfo.InvariantCulture,
            $"{who}: {prompts.Count} clip(s) × {settings.Steps} {settings.Solver} steps{(settings.Guidance == 1 ? "" : $" × CFG {settings.Guidance}")}"),
            prompts.Count * settings.Steps);
        WarmUp(pipeline, settings);
        var clips = new List<Tensor>();
        var times = new List<GeneratedTimes>();
        using var pause = CollectionPause.Begin();
        try
        {
            for (int i = 0; i < prompts.Count; i++)
            {
                var generated = pipeline.GenerateTimed([prompts[i]], seed, settings, (_, _) => progress.Advance(1), firstIndex: i);
                clips.Add(generated.Videos);
                times.Add(new GeneratedTimes(generated.EncodeSeconds, generated.DenoiseSeconds, generated.DecodeSeconds));
                pause.Checkpoint();
            }
            return (cat(clips, 0), times, settings);
        }
        finally
        {
            foreach (var clip in clips) clip.Dispose();
        }
    }

    /// <summary>
    /// One untimed transformer call and VAE decode at the clip's size: a process's first calls pay for allocations and
    /// kernel choices, which are not the model's speed (and would count against whichever model runs first).
    /// </summary>
    static void WarmUp(WanTextToVideo pipeline, SampleSettings settings)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var device = pipeline.Transformer.Device;
        var context = pipeline.EncodePrompts([""]);
        var latent = randn(pipeline.LatentShape(1, settings)).to(device);
        pipeline.Transformer.Forward(latent, full([1], 500f).to(device), context);
        pipeline.Vae.Decode(pipeline.Vae.Denormalize(latent));
    }

    sealed record GeneratedTimes(double Encode, double Denoise, double Decode)
    {
        public double TotalSeconds => Encode + Denoise + Decode;
    }

    static SamplingSpeed Speed(SampleSettings settings, IReadOnlyList<GeneratedTimes> times)
    {
        double denoise = Statistics.Median(times.Select(t => t.Denoise));
        return new SamplingSpeed(settings.Solver, settings.Steps, settings.Sampler.ForwardsPerStep, denoise / settings.Steps, denoise,
            Statistics.Median(times.Select(t => t.Encode)), Statistics.Median(times.Select(t => t.Decode)), Statistics.Median(times.Select(t => t.TotalSeconds)));
    }

    static List<GateResult> Gates(ValidationOptions options, QualityTable quality)
    {
        var gates = new List<GateResult>();
        if (options.MinPsnr is { } minPsnr)
        {
            bool passed = quality.MeanPsnrDb >= minPsnr;
            gates.Add(new GateResult("min PSNR", "--gate-min-psnr", minPsnr, quality.MeanPsnrDb, passed, string.Create(CultureInfo.InvariantCulture,
                $"mean PSNR {quality.MeanPsnrDb:F2} dB {(passed ? "≥" : "<")} {minPsnr:G} dB (--gate-min-psnr)")));
        }
        if (options.MaxAdherenceDrop is { } maxDrop && quality.Judge is { } judge)
        {
            bool passed = judge.AdherenceDrop <= maxDrop;
            gates.Add(new GateResult("max adherence drop", "--gate-max-adherence-drop", maxDrop, judge.AdherenceDrop, passed, string.Create(CultureInfo.InvariantCulture,
                $"adherence drop {judge.AdherenceDrop:F3} ({judge.Teacher.Adherence:P1} → {judge.Package.Adherence:P1}) {(passed ? "≤" : ">")} {maxDrop:G} (--gate-max-adherence-drop)")));
        }
        return gates;
    }
}
