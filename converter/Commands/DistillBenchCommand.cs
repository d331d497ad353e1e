using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Turbo.Converter.Checkpoints;
using Turbo.Converter.Cli;
using Turbo.Converter.Files;
using Turbo.Converter.Running;
using Turbo.Distiller.Rcm;
using Turbo.Runtime;
using static TorchSharp.torch;

namespace Turbo.Converter.Commands;

/// <summary>
/// `distill-bench CKPT`: time and memory of rCM training iterations with the checkpoint as teacher at a clip size
/// (<see cref="RcmIterationBench"/>): what fits on one device. A step that runs out of memory is a result, not a
/// crash: one line, the JSON written with outOfMemory set, exit 4, so that a script trying several sizes carries on.
/// </summary>
public static class DistillBenchCommand
{
    public const int OutOfMemoryExitCode = Cli.CliInvocation.OutOfMemoryExitCode;

    public static Command Create()
    {
        var path = CommonOptions.CheckpointArgument("the teacher: a Wan2.1 DiT checkpoint (`turbo-convert synth --preset 1.3b` makes one)");
        var config = CommonOptions.Config();
        var resolution = new Option<string>("--resolution") { Description = "clip size: 480p (832×480) or 720p (1280×720)", DefaultValueFactory = _ => "480p" };
        resolution.AcceptOnlyFromAmong("480p", "720p");
        var frames = new Option<int>("--frames") { Description = "video frames of a clip (4n+1); the latent has 1 + (frames − 1)/4", DefaultValueFactory = _ => 9 };
        var batch = new Option<int>("--batch") { Description = "clips per step", DefaultValueFactory = _ => 1 };
        var tangent = new Option<string>("--tangent")
        {
            Description = "sCM tangent: exact (double backward, dense attention: memory grows with tokens²) or fd (finite differences, 4 more forwards)",
            DefaultValueFactory = _ => "exact",
        };
        tangent.AcceptOnlyFromAmong("exact", "fd");
        var iterations = new Option<int>("--iterations") { Description = "measured steps of each kind (student, critic); critic steps come 4 to a student step, so more of them are measured", DefaultValueFactory = _ => 6 };
        var warmup = new Option<int>("--warmup") { Description = "steps of each kind run before measuring", DefaultValueFactory = _ => 2 };
        var device = CommonOptions.Device();
        var json = new Option<string?>("--json") { Description = "also write the results as JSON to this file (written when out of memory too)" };
        var command = new Command("distill-bench",
            "Time rCM training iterations (student and critic steps, float32, as the distiller trains) with the checkpoint as teacher, and record peak memory. " +
            "Latents and prompt embeddings are random: time and memory depend on shapes, not values. Exit 4 when a step runs out of memory.")
        {
            path, config, resolution, frames, batch, tangent, iterations, warmup, device, json,
        };
        command.SetAction(parse =>
        {
            var size = VideoSize.Parse(parse.GetRequiredValue(resolution), parse.GetValue(frames));
            var method = parse.GetRequiredValue(tangent) == "fd" ? TangentMethod.FiniteDifference : TangentMethod.DoubleBackward;
            var bench = new RcmIterationBench(new RcmBenchSettings(size, parse.GetValue(batch), method, parse.GetValue(warmup), parse.GetValue(iterations)));
            string? jsonPath = parse.GetValue(json);
            if (jsonPath is not null && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(jsonPath))))
                throw new TurboException($"--json {jsonPath}: its folder does not exist");
            var target = DeviceChoice.Resolve(parse.GetRequiredValue(device));

            var memory = MemoryProbe.For(target);
            string checkpointPath = parse.GetRequiredValue(path);
            using var checkpoint = AdaptedCheckpoints.OpenWan(checkpointPath, parse.GetValue(config));
            using var teacher = WanModelLoader.Load(checkpoint, ScalarType.Float32, target);
            var result = ProgressBar.Run(CommandConsoles.ForProgress(parse), $"rCM steps ({RcmIterationBench.TangentName(method)} tangent)",
                bench.Plan.Count, advance => bench.Run(Path.GetFullPath(checkpointPath), teacher, memory, () => advance(1)));

            if (jsonPath is not null) AtomicFile.WriteAllText(jsonPath, result.ToJson());
            if (result.OutOfMemory is { } failure)
            {
                parse.InvocationConfiguration.Error.WriteLine(failure.Message);
                CommandConsoles.Output(parse).WriteLine(OutOfMemoryLine(result, failure));
                return OutOfMemoryExitCode;
            }
            Render(result, CommandConsoles.ForOutput(parse));
            return 0;
        });
        return command;
    }

    /// <summary>"exact tangent at 480p×9 frames needs more than 139.8 GiB of cuda memory (ran out at step 0 (student)); try --tangent fd".</summary>
    static string OutOfMemoryLine(RcmBenchResult r, OutOfMemoryFailure failure)
    {
        string what = $"{r.Tangent} tangent at {r.Resolution}×{r.Frames} frames" + (r.Batch > 1 ? $", batch {r.Batch}," : "");
        string memory = r.Memory.CapacityBytes is { } capacity ? $"more than {GiB(capacity)} of {r.Device} memory" : "more memory than the device has";
        string hint = r.Tangent == "exact" ? "try --tangent fd" : "try fewer --frames, a lower --resolution or a smaller --batch";
        return $"{what} needs {memory} (ran out {failure.Where}); {hint}";
    }

    static void Render(RcmBenchResult r, IAnsiConsole console)
    {
        var timings = new Table().Border(TableBorder.Rounded).Title("rCM training steps")
            .AddColumns("step", "measured", "median ms", "min ms", "max ms");
        foreach (var k in new[] { r.Student, r.Critic })
            timings.AddRow(k.Kind, N(k.Measured), Ms(k.MedianMs), Ms(k.MinMs), Ms(k.MaxMs));
        console.Write(timings);

        var setup = new Table().Border(TableBorder.Rounded).HideHeaders().AddColumns("", "");
        void Row(string key, string value) => setup.AddRow(new Text(key), new Text(value));
        Row("checkpoint", r.Checkpoint);
        Row("model", $"{r.Layers} layers, dim {r.Dim}, {N(r.ParametersPerNetwork)} parameters each: teacher, student, critic");
        Row("compute", $"{r.Device}, {r.Dtype}");
        Row("clip", $"{r.Resolution} ({r.Width}×{r.Height}) × {r.Frames} frames, batch {r.Batch}");
        Row("latent", "[" + string.Join(", ", r.Latent) + "]");
        Row("tokens per clip", N(r.TokensPerClip));
        Row("tangent", r.Tangent + (r.Rcm.FiniteDifferenceStep is { } h ? $" (step {h.ToString(CultureInfo.InvariantCulture)})" : " (double backward)"));
        Row("rCM", $"tangent warm-up {r.Rcm.TangentWarmup}, DMD weight {r.Rcm.DmdWeight.ToString(CultureInfo.InvariantCulture)}, " +
            $"student every {r.Rcm.StudentUpdateEvery} steps, 1–{r.Rcm.MaxSimulationSteps} simulated steps, guidance {r.Rcm.TeacherGuidance.ToString(CultureInfo.InvariantCulture)}");
        Row("steps", $"{r.Steps.Count} run; {r.Warmup} warm-up of each kind not measured");
        Row("peak memory", r.Memory.PeakBytes is { } peak
            ? $"{GiB(peak)}" + (r.Memory.BaselineBytes is { } before ? $" ({GiB(before)} before loading)" : "") + (r.Memory.CapacityBytes is { } all ? $" of {GiB(all)}" : "")
            : "-");
        Row("memory source", r.Memory.Source);
        console.Write(setup);
    }

    static string GiB(ulong bytes) => (bytes / (double)(1L << 30)).ToString("F1", CultureInfo.InvariantCulture) + " GiB";

    static string Ms(double? ms) => ms is { } v ? v.ToString("F1", CultureInfo.InvariantCulture) : "-";

    static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
