using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;
using Turbo.Cli.Int8;
using Turbo.Runtime;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Cli.Commands;

/// <summary>
/// `turbo check-int8`: the W8A8 CUDA paths (per-token quantization, mma, cuBLASLt and wgmma INT8 GEMMs, epilogue; FP8 through
/// cuBLASLt where the GPU has it) against the
/// reference on fresh random inputs (Int8Parity), then timed against bf16 at Wan's linear shapes (Int8Timing).
/// Exit 1 when any check disagrees. With --json the results are written after the checks and again after the timings.
/// --bench-only, --shape and --only narrow a run to the timings asked for (e.g. under a profiler).
/// </summary>
static class CheckInt8Command
{
    public static Command Create()
    {
        var json = new Option<string?>("--json") { Description = "Also write the results as JSON to this file" };
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 0 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed calls before each timing", DefaultValueFactory = _ => 3 };
        var repeats = new Option<int>("--repeats") { Description = "Timed calls per timing (median reported)", DefaultValueFactory = _ => 20 };
        var parityOnly = new Option<bool>("--parity-only") { Description = "Check the kernels without timing them" };
        var benchOnly = new Option<bool>("--bench-only") { Description = "Only time, skip the checks" };
        var shape = new Option<string?>("--shape") { Description = "Time one model's layers only: 1.3b or 14b" };
        shape.AcceptOnlyFromAmong(Int8Timing.ModelNames);
        var only = new Option<string?>("--only") { Description = "Time only the layers whose names contain this text, e.g. \"ffn.0\"" };
        var cmd = new Command("check-int8", "Check the W8A8 CUDA kernels against the reference and time them against bf16 at Wan's shapes");
        foreach (var o in new Option[] { json, seed, warmup, repeats, parityOnly, benchOnly, shape, only }) cmd.Options.Add(o);
        cmd.SetAction(r => Run(r.GetValue(json), r.GetValue(seed), r.GetValue(warmup), r.GetValue(repeats), !r.GetValue(benchOnly),
            !r.GetValue(parityOnly), r.GetValue(shape), r.GetValue(only)));
        return cmd;
    }

    static int Run(string? jsonPath, int seed, int warmup, int repeats, bool check, bool bench, string? shape, string? only)
    {
        if (warmup < 0 || repeats < 1) throw new TurboException("--warmup must be ≥ 0 and --repeats ≥ 1");
        if (!check && !bench) throw new TurboException("--parity-only and --bench-only together leave nothing to do");
        if (!bench && (shape is not null || only is not null)) throw new TurboException("--shape and --only narrow the timings, which --parity-only skips");
        var layers = Int8Timing.Select(shape, only);
        var device = DeviceChoice.Resolve("cuda");
        if (!TurboNative.HasInt8Kernels) throw new TurboException(TurboNative.Describe() + (TurboNative.IsAvailable ? ": predates the W8A8 kernels, rebuild runtime/native" : ""));
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(TurboNative.Describe())}[/]");
        manual_seed(seed);
        string date = DateTime.UtcNow.ToString("yyyy-MM-dd");

        var agreements = check ? Int8Parity.Run(device, Log) : [];
        if (check) ReportParity(agreements);
        bool ok = agreements.All(a => a.Ok);
        Write(jsonPath, new { date, native = TurboNative.Describe(), ok, agreements });

        if (bench)
        {
            var timings = Int8Timing.Run(device, warmup, repeats, layers, Log);
            ReportTimings(timings);
            Write(jsonPath, new { date, native = TurboNative.Describe(), ok, agreements, warmup, repeats, timings });
        }
        if (check)
            AnsiConsole.MarkupLine(ok ? "[green]the W8A8 CUDA kernels agree with the reference[/]" : "[red]the W8A8 CUDA kernels disagree with the reference[/]");
        return ok ? 0 : 1;
    }

    static void ReportParity(List<Int8Parity.Agreement> agreements)
    {
        var table = new Table().Title("W8A8 CUDA vs reference (CPU)").AddColumns("check", "shape", "case", "mismatched", "max |Δ|", "rel", "tol", "bit-exact", "ok");
        foreach (var a in agreements)
            table.AddRow(Markup.Escape(a.Check), Markup.Escape(a.Shape), Markup.Escape(a.Detail), $"{a.Mismatched}/{a.Elements}",
                $"{a.MaxAbsDiff:E2}", $"{a.RelError:E2}", a.Tolerance == 0 ? "exact" : $"{a.Tolerance:E0}", a.Exact ? "yes" : "no",
                a.Ok ? "[green]yes[/]" : "[red]NO[/]");
        AnsiConsole.Write(table);
    }

    static void ReportTimings(List<Int8Timing.Row> rows)
    {
        var stages = new Table().Title("stages, ms (bf16 input and output, no smoothing)")
            .AddColumns("model", "layer", "M", "K × N", "quantize", "mma fused", "mma INT32", "cuBLASLt INT32", "epilogue", "mma block128",
                "fp8 quantize", "cuBLASLt FP8 (fused)", "ffn middle: 3 passes → fused", "norm + q/k/v quantize: 4 passes → 1");
        foreach (var r in rows)
            stages.AddRow(r.Model, Markup.Escape(r.Layer), $"{r.M}", $"{r.K} × {r.N}", $"{r.QuantizeMs:F3}", $"{r.MmaFusedMs:F3}",
                $"{r.MmaInt32Ms:F3} ({r.MmaInt32Tops:F0} TOPS)", $"{r.CublasLtInt32Ms:F3} ({r.CublasLtInt32Tops:F0} TOPS)",
                $"{r.DequantizeMs:F3}", $"{r.MmaBlockFusedMs:F3}", $"{r.Fp8QuantizeMs:F3}", $"{r.Fp8GemmMs:F3} ({r.Fp8GemmTflops:F0} TFLOPS)",
                double.IsNaN(r.FfnMiddleMs) ? "" : $"{r.FfnMiddleMs:F3} → {r.FfnMiddleFusedMs:F3}",
                double.IsNaN(r.NormQkvMs) ? "" : $"{r.NormQkvMs:F3} → {r.NormQkvFusedMs:F3}");
        AnsiConsole.Write(stages);

        var layers = new Table().Title("whole layer (quantize + GEMM + epilogue) vs bf16 linear, ms, TFLOP/s and speed-up")
            .AddColumns("model", "layer", "M", "bf16", "W8A8 mma", "W8A8 cuBLASLt", "W8A8 block128 (mma)", "faster per-channel", "W8A8 fp8 (cuBLASLt)");
        foreach (var r in rows)
            layers.AddRow(r.Model, Markup.Escape(r.Layer), $"{r.M}", $"{r.Bf16Ms:F3} ({r.Bf16Tflops:F0})",
                $"{r.LayerMmaMs:F3} ({r.LayerMmaTflops:F0}, {r.SpeedupMma:F2}×)",
                $"{r.LayerCublasLtMs:F3} ({r.LayerCublasLtTflops:F0}, {r.SpeedupCublasLt:F2}×)",
                $"{r.LayerMmaBlockMs:F3} ({r.SpeedupMmaBlock:F2}×)", r.FasterPerChannel,
                $"{r.LayerFp8Ms:F3} ({r.LayerFp8Tflops:F0}, {r.SpeedupFp8:F2}×)");
        AnsiConsole.Write(layers);

        if (rows.All(r => double.IsNaN(r.LayerWgmmaMs))) return;
        var hopper = new Table().Title("the Hopper kernel (wgmma, epilogue fused), ms, TOP/s and speed-up")
            .AddColumns("model", "layer", "M", "cuBLASLt INT32", "wgmma INT32", "wgmma fused", "layer: cuBLASLt → wgmma");
        foreach (var r in rows)
            hopper.AddRow(r.Model, Markup.Escape(r.Layer), $"{r.M}", $"{r.CublasLtInt32Ms:F3} ({r.CublasLtInt32Tops:F0})",
                $"{r.WgmmaInt32Ms:F3} ({r.WgmmaInt32Tops:F0})", $"{r.WgmmaFusedMs:F3} ({r.WgmmaFusedTops:F0})",
                $"{r.LayerCublasLtMs:F3} ({r.SpeedupCublasLt:F2}×) → {r.LayerWgmmaMs:F3} ({r.SpeedupWgmma:F2}×)");
        AnsiConsole.Write(hopper);

        var feedForward = rows.Where(r => !double.IsNaN(r.FfnFirstWgmmaMs)).ToList();
        if (feedForward.Count == 0) return;
        var routes = new Table().Title("feed-forward: quantized input → the second layer's input (Int8FeedForward's routes), ms")
            .AddColumns("model", "M", "GELU + quantize alone", "cuBLASLt INT32 + fused middle", "wgmma with epilogue + GELU quantize");
        foreach (var r in feedForward)
            routes.AddRow(r.Model, $"{r.M}", $"{r.GeluQuantizeMs:F3}", $"{r.FfnFirstCublasLtMs:F3}", $"{r.FfnFirstWgmmaMs:F3}");
        AnsiConsole.Write(routes);
    }

    static void Write(string? path, object result)
    {
        // Named literals: an unwritten (poisoned) output gives an infinite or NaN error, which plain JSON numbers cannot hold.
        var options = new JsonSerializerOptions { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
        if (path is not null) File.WriteAllText(path, JsonSerializer.Serialize(result, options));
    }

    static void Log(string message) => Console.Error.WriteLine(message);
}
