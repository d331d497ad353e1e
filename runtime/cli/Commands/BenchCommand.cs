using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Spectre.Console;
using Turbo.Converter.Checkpoints;
using Turbo.Converter.Running;
using Turbo.Cli.Bench;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Runtime.Native;
using Turbo.Runtime.Packaging;
using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Cli.Commands;

/// <summary>
/// `turbo bench CKPT`: the bf16 teacher on the GPU at a video resolution — one DiT forward (median of repeats after
/// warm-up, CUDA events) broken down into linear layers, self-attention, cross-attention and the rest; device memory;
/// the teacher's own denoising loop (UniPC, 50 steps, CFG = two forwards per step); and, in the same run, the ceilings
/// every speed-up is a ratio of: bf16 GEMM at the model's shapes, SDPA at its self-attention shape, copy bandwidth.
/// `turbo bench PKG` (a package folder) times the package's denoising against its teacher's recipe instead
/// (<see cref="PackageBench"/>), on CUDA or the CPU.
/// </summary>
static class BenchCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string>("checkpoint") { Description = "Wan2.1 checkpoint (file, folder or sharded), or a package (turbo.json): the package against its teacher's recipe" };
        var config = new Option<string?>("--config") { Description = "config.json to use instead of the one beside the weights" };
        var resolution = new Option<string?>("--resolution") { Description = "480p (832×480) or 720p (1280×720); default 480p, for a package its own clip size" };
        var frames = new Option<int?>("--frames") { Description = "Video frames (4n+1); default 81, for a package its own" };
        var warmup = new Option<int>("--warmup") { Description = "Forward passes before timing", DefaultValueFactory = _ => 2 };
        var repeats = new Option<int>("--repeats") { Description = "Timed forward passes (median reported)", DefaultValueFactory = _ => 5 };
        var steps = new Option<int>("--steps") { Description = "Denoising steps of the teacher's recipe", DefaultValueFactory = _ => 50 };
        var measuredSteps = new Option<int?>("--measured-steps") { Description = "Steps of the loop actually run (the total is extrapolated); default all" };
        var guidance = new Option<double>("--guidance") { Description = "CFG scale (≠ 1 means two forwards per step)", DefaultValueFactory = _ => 5.0 };
        var referenceOps = new Option<bool>("--reference-ops") { Description = "Use the TorchSharp reference ops instead of the fused CUDA kernels" };
        var noCeilings = new Option<bool>("--no-ceilings") { Description = "Skip the GEMM/SDPA/copy ceiling measurements" };
        var json = new Option<string?>("--json") { Description = "Write the results as JSON to this file" };
        var device = new Option<string>("--device") { Description = "cuda (a checkpoint's GPU timing needs CUDA); a package may be timed on auto, cuda or cpu", DefaultValueFactory = _ => "cuda" };
        var cmd = new Command("bench", "Measure the bf16 teacher on the GPU: per-step breakdown, memory, denoising loop, ceilings");
        foreach (var o in new Option[] { config, resolution, frames, warmup, repeats, steps, measuredSteps, guidance, referenceOps, noCeilings, json, device })
            cmd.Options.Add(o);
        cmd.Arguments.Add(checkpoint);
        cmd.SetAction(r => File.Exists(Path.Combine(r.GetValue(checkpoint)!, PackageManifest.FileName))
            ? RunPackage(r.GetValue(checkpoint)!, r.GetValue(resolution), r.GetValue(frames), r.GetValue(warmup), r.GetValue(repeats), r.GetValue(steps),
                r.GetValue(measuredSteps), r.GetValue(guidance), r.GetValue(json), r.GetValue(device)!)
            : Run(new Settings(r.GetValue(checkpoint)!, r.GetValue(config), VideoSize.Parse(r.GetValue(resolution) ?? "480p", r.GetValue(frames) ?? 81),
            r.GetValue(warmup), r.GetValue(repeats), r.GetValue(steps), r.GetValue(measuredSteps), r.GetValue(guidance),
            !r.GetValue(referenceOps), !r.GetValue(noCeilings), r.GetValue(json), r.GetValue(device)!)));
        return cmd;
    }

    record Settings(string Checkpoint, string? Config, VideoSize Size, int Warmup, int Repeats, int Steps, int? MeasuredSteps,
        double Guidance, bool Fused, bool Ceilings, string? Json, string Device);

    static int Run(Settings s)
    {
        if (s.Repeats < 1 || s.Warmup < 0 || s.Steps < 1 || s.MeasuredSteps is < 1)
            throw new TurboException("--repeats, --steps and --measured-steps must be ≥ 1, --warmup ≥ 0");
        var device = DeviceChoice.Resolve(s.Device);
        if (device.type != TorchSharp.DeviceType.CUDA) throw new TurboException("bench times the GPU with CUDA events: use --device cuda");
        if (!TurboNative.IsAvailable) throw new TurboException("bench needs the native CUDA library for its timers: " + TurboNative.Describe());
        FusedOps.NativeEnabled = s.Fused;
        Log(TurboNative.Describe() + (s.Fused ? "" : " (disabled: --reference-ops)"));
        using var noGrad = no_grad();

        ulong memoryBefore = CudaProfiler.DeviceMemoryUsed();
        var load = Stopwatch.StartNew();
        using var checkpoint = AdaptedCheckpoints.OpenWan(s.Checkpoint, s.Config);
        using var model = WanModelLoader.Load(checkpoint, ScalarType.BFloat16, device);
        CudaProfiler.Synchronize();
        Log($"loaded {checkpoint.Config.NumLayers}-layer Wan2.1 (dim {checkpoint.Config.Dim}) to the GPU in bf16 in {load.Elapsed.TotalSeconds:F1} s");

        var config = model.Config;
        var latent = s.Size.LatentShape(config.InDim);
        long tokens = latent[2] / config.PatchSize[0] * (latent[3] / config.PatchSize[1]) * (latent[4] / config.PatchSize[2]);
        using var x = randn(latent, device: device);
        using var t = full([1], 500.0, device: device);
        using var context = randn(1, config.TextLen, config.TextDim, device: device);

        Log($"{s.Size.Name}: latent [{string.Join(", ", latent)}] → {tokens:N0} tokens; {s.Warmup} warm-up + {s.Repeats} timed forwards");
        for (int i = 0; i < s.Warmup; i++) model.Forward(x, t, context).Dispose();
        var forwardMs = Statistics.Median(Enumerable.Range(0, s.Repeats).Select(_ => TimeForward(model, x, t, context)).ToList());
        var breakdown = ForwardBreakdown.Measure(() => model.Forward(x, t, context).Dispose(), s.Repeats);
        ulong memoryUsed = CudaProfiler.DeviceMemoryUsed() - memoryBefore;

        var loop = TimeDenoisingLoop(model, x, context, s);
        var ceilings = s.Ceilings ? Ceilings.Measure(config, tokens, device) : null;
        var floor = FlopFloor.For(config, tokens, ceilings);

        var result = new
        {
            date = DateTime.UtcNow.ToString("yyyy-MM-dd"),
            checkpoint = Path.GetFileName(Path.TrimEndingDirectorySeparator(s.Checkpoint)),
            model = new { config.Dim, config.FfnDim, config.NumHeads, config.NumLayers, parameters = model.parameters().Sum(p => p.numel()) },
            resolution = s.Size.Name, latent, tokens, dtype = "bf16", fusedKernels = s.Fused,
            forwardMs, breakdownMs = breakdown, deviceMemoryGiB = memoryUsed / (double)(1L << 30),
            denoising = loop, ceilings, floor,
        };
        Report(result.forwardMs, breakdown, memoryUsed, loop, ceilings, floor);
        if (s.Json is not null)
            File.WriteAllText(s.Json, JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    static int RunPackage(string package, string? resolution, int? frames, int warmup, int repeats, int steps, int? measuredSteps,
        double guidance, string? json, string device)
    {
        if (repeats < 1 || warmup < 0 || steps < 1 || measuredSteps is < 1)
            throw new TurboException("--repeats, --steps and --measured-steps must be ≥ 1, --warmup ≥ 0");
        var size = resolution is null && frames is null ? null : VideoSize.Parse(resolution ?? "480p", frames ?? 81);
        return PackageBench.Run(new PackageBench.Settings(package, size, warmup, repeats, steps, measuredSteps, guidance, json, DeviceChoice.Resolve(device)));
    }

    static double TimeForward(WanModel model, Tensor x, Tensor t, Tensor context)
    {
        using var profiler = new CudaProfiler();
        using (profiler.Measure("forward")) model.Forward(x, t, context).Dispose();
        return profiler.Collect()["forward"];
    }

    record LoopTiming(int Steps, int MeasuredSteps, int ForwardsPerStep, double MeasuredSeconds, double SecondsPerStep, double TotalSeconds);

    /// <summary>The teacher's recipe: UniPC on Wan's shifted schedule with CFG, wall time (the GPU synchronized).</summary>
    static LoopTiming TimeDenoisingLoop(WanModel model, Tensor noise, Tensor context, Settings s)
    {
        int measured = Math.Min(s.MeasuredSteps ?? s.Steps, s.Steps);
        var schedule = FlowMatchSchedule.WanOriginal(s.Steps, shift: 5.0).Leading(measured);
        using var negative = randn_like(context);
        var velocity = ClassifierFreeGuidance.Guided((a, b, c) => model.Forward(a, b, c), context, negative, s.Guidance);
        Log($"denoising loop: {measured} of {s.Steps} UniPC steps, guidance {s.Guidance}");
        CudaProfiler.Synchronize();
        var clock = Stopwatch.StartNew();
        new UniPcSampler().Sample(velocity, noise, schedule, (i, n) => Log($"  step {i}/{n}")).Dispose();
        CudaProfiler.Synchronize();
        double seconds = clock.Elapsed.TotalSeconds;
        return new LoopTiming(s.Steps, measured, s.Guidance == 1.0 ? 1 : 2, seconds, seconds / measured, seconds / measured * s.Steps);
    }

    static void Report(double forwardMs, Dictionary<string, double> breakdown, ulong memory, LoopTiming loop,
        Ceilings? ceilings, FlopFloor floor)
    {
        var table = ForwardBreakdown.Table("one DiT forward (bf16, batch 1)", ("forward", breakdown));
        table.AddRow("[bold]total (unprofiled)[/]", $"{forwardMs:F1}", "");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"device memory held by the run (weights + activations + allocator cache): {memory / (double)(1L << 30):F1} GiB");
        AnsiConsole.MarkupLine($"denoising: {loop.Steps} steps × {loop.ForwardsPerStep} forwards → {loop.TotalSeconds:F1} s " +
            $"({loop.SecondsPerStep:F2} s/step over {loop.MeasuredSteps} measured steps)");
        AnsiConsole.MarkupLine($"FLOP floor per forward: linears {floor.LinearTflop:F1} TFLOP, attention {floor.AttentionTflop:F1} TFLOP" +
            (floor.FloorMs is { } ms ? $" → ≥ {ms:F0} ms at the measured GEMM/SDPA rates" : ""));
        if (ceilings is null) return;
        var ct = new Table().Title("ceilings").AddColumns("what", "shape", "ms", "rate");
        foreach (var g in ceilings.Gemm) ct.AddRow("bf16 GEMM", Markup.Escape($"M {g.M} K {g.K} N {g.N}"), $"{g.Ms:F2}", $"{g.Tflops:F0} TFLOP/s");
        ct.AddRow("SDPA (libtorch's choice)", Markup.Escape($"B 1 H {ceilings.Sdpa.Heads} L {ceilings.Sdpa.Length} D {ceilings.Sdpa.HeadDim}"), $"{ceilings.Sdpa.Ms:F2}", $"{ceilings.Sdpa.Tflops:F0} TFLOP/s");
        ct.AddRow("device copy", $"{ceilings.CopyGiB:F0} GiB", $"{ceilings.CopyMs:F2}", $"{ceilings.CopyGBps:F0} GB/s");
        AnsiConsole.Write(ct);
    }

    static void Log(string message) => Console.Error.WriteLine(message);
}
