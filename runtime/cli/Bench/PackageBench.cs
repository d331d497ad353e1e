using System.Diagnostics;
using System.Text.Json;
using Spectre.Console;
using Turbo.Converter.Running;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Runtime.Native;
using Turbo.Runtime.Packaging;
using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Cli.Bench;

/// <summary>
/// `turbo bench PKG`: the package's denoising (its sampler, steps, guidance, attention and Linear kinds) against its
/// teacher's recipe (UniPC × 50 steps × CFG, dense attention, float Linears) on the same architecture and latent:
/// one step (median of repeats after warm-up) and the whole loop, wall time with the device synchronized: the package's
/// loop as the median of as many loops as repeats (a second or less, it moves by several percent from one run to the
/// next), the teacher's, fifty times longer, once. The
/// teacher is timed on a model of the package's architecture with initial weights: time does not depend on values.
/// On CUDA, one step of each is also broken down by part (linears, attention and their details, the rest).
/// Text encoding and VAE decoding are not included (they are the same for both; `turbo-convert validate` times them).
/// </summary>
static class PackageBench
{
    public sealed record Settings(string Package, VideoSize? Size, int Warmup, int Repeats, int TeacherSteps, int? MeasuredSteps,
        double TeacherGuidance, string? Json, Device Device);

    /// <param name="LoopSeconds">the whole loop, extrapolated from its measured steps; the median of <paramref name="TimedLoops"/></param>
    /// <param name="StepParts">one step's GPU time by part (<see cref="ForwardBreakdown"/>), on CUDA with the native library</param>
    public sealed record LoopResult(string Solver, int Steps, int ForwardsPerStep, double MsPerStep, int MeasuredSteps, double LoopSeconds,
        int TimedLoops, Dictionary<string, double>? StepParts);

    public static int Run(Settings s)
    {
        var manifest = PackageFolder.Open(s.Package);
        var dtype = s.Device.type == TorchSharp.DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32;
        using var noGrad = no_grad();
        using var package = WanPackage.LoadTransformer(s.Package, manifest, dtype, s.Device);
        using var teacher = new WanModel(manifest.Config with { Attention = Runtime.Attention.AttentionConfig.Dense, BlockAttention = null }, dtype, s.Device);
        teacher.eval();

        var config = manifest.Config;
        long[] latent = s.Size?.LatentShape(config.InDim) ?? PackageLatent(s.Package, manifest);
        Log($"{Path.GetFileName(Path.TrimEndingDirectorySeparator(s.Package))}: latent [{string.Join(", ", latent)}], {dtype} on {s.Device}");
        using var noise = randn(latent, device: s.Device);
        using var context = randn(1, config.TextLen, config.TextDim, device: s.Device);
        using var negative = randn(1, config.TextLen, config.TextDim, device: s.Device);

        var sampler = manifest.Sampler;
        var packageLoop = Time("package", package, sampler.Solver, sampler.Schedule,
            sampler.Guidance, noise, context, negative, s, measured: null, loops: s.Repeats);
        var teacherLoop = Time("teacher recipe", teacher, "unipc", FlowSolvers.Schedule(FlowSolvers.UniPc, s.TeacherSteps, SamplerSettings.WanTeacher.Shift, null),
            s.TeacherGuidance, noise, context, negative, s, s.MeasuredSteps, loops: 1);

        var loops = new[] { ("teacher recipe", teacherLoop), ("package", packageLoop) };
        var table = new Table().Title("denoising, batch 1").AddColumns("", "sampler", "forwards/step", "ms/step", "loop s", "measured steps", "timed loops");
        foreach (var (who, r) in loops)
            table.AddRow(who, $"{r.Solver} × {r.Steps}", $"{r.ForwardsPerStep}", $"{r.MsPerStep:F1}", $"{r.LoopSeconds:F2}", $"{r.MeasuredSteps}", $"{r.TimedLoops}");
        double perStep = teacherLoop.MsPerStep / packageLoop.MsPerStep, loop = teacherLoop.LoopSeconds / packageLoop.LoopSeconds;
        table.AddRow("speed-up", "", "", $"{perStep:F2}×", $"{loop:F2}×", "", "");
        AnsiConsole.Write(table);
        foreach (var (who, r) in loops)
            if (StepTiming.Disagreement(who, r.MsPerStep, r.LoopSeconds, r.Steps) is { } note)
                AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(note)}[/]");
        if (teacherLoop.StepParts is { } teacherParts && packageLoop.StepParts is { } packageParts)
            AnsiConsole.Write(ForwardBreakdown.Table("one denoising step by part (CUDA events)", ("teacher recipe", teacherParts), ("package", packageParts)));
        if (s.Json is not null)
            File.WriteAllText(s.Json, JsonSerializer.Serialize(new
            {
                date = DateTime.UtcNow.ToString("yyyy-MM-dd"), package = Path.GetFullPath(s.Package), device = s.Device.ToString(), dtype = dtype.ToString(),
                latent, quantization = manifest.Quantization.Scheme,
                attention = Enumerable.Range(0, config.NumLayers).Select(i => config.AttentionOf(i).Kind.ToString()).ToArray(),
                teacher = teacherLoop, packageLoop, speedupPerStep = perStep, speedupLoop = loop,
            }, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    /// <summary>The latent of the package's own clip size, through its VAE's compression.</summary>
    static long[] PackageLatent(string folder, PackageManifest manifest)
    {
        string path = Path.Combine(PackageFolder.Resolve(folder, manifest.Components.Vae), "config.json");
        var vae = WanVaeConfig.FromJson(File.ReadAllText(path), path);
        var v = manifest.Video;
        return [1, manifest.Config.InDim, 1 + (v.Frames - 1) / vae.TemporalCompression, v.Height / vae.SpatialCompression, v.Width / vae.SpatialCompression];
    }

    static LoopResult Time(string who, WanModel model, string solver, FlowMatchSchedule whole, double guidance, Tensor noise, Tensor context,
        Tensor negative, Settings s, int? measured, int loops)
    {
        var velocity = ClassifierFreeGuidance.Guided((x, t, c) => model.Forward(x, t, c), context, negative, guidance);
        using var t0 = full([1], whole.Timesteps[0], dtype: ScalarType.Float32, device: s.Device);
        for (int i = 0; i < s.Warmup; i++) velocity(noise, t0).Dispose();
        var steps = new List<double>();
        for (int i = 0; i < s.Repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            velocity(noise, t0).Dispose();
            Synchronize(s.Device);
            steps.Add(clock.Elapsed.TotalMilliseconds);
        }
        var parts = s.Device.type == TorchSharp.DeviceType.CUDA && TurboNative.IsAvailable
            ? ForwardBreakdown.Measure(() => velocity(noise, t0).Dispose(), s.Repeats)
            : null;
        int count = Math.Min(measured ?? whole.Steps, whole.Steps);
        var schedule = whole.Leading(count);
        Log($"{who}: {count} of {whole.Steps} {solver} steps, guidance {guidance}, {loops} timed loop{(loops == 1 ? "" : "s")}");
        var seconds = new List<double>();
        for (int i = 0; i < loops; i++)
        {
            var loop = Stopwatch.StartNew();
            FlowSolvers.Create(solver).Sample(velocity, noise, schedule).Dispose();
            Synchronize(s.Device);
            seconds.Add(loop.Elapsed.TotalSeconds / count * whole.Steps);
        }
        return new LoopResult(solver, whole.Steps, guidance == 1.0 ? 1 : 2, Statistics.Median(steps), count, Statistics.Median(seconds), loops, parts);
    }

    static void Synchronize(Device device)
    {
        if (device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize(device);
    }

    static void Log(string message) => Console.Error.WriteLine(message);
}
