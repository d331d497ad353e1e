using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Turbo.Cli.Attention;
using Turbo.Runtime;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Cli.Commands;

/// <summary>
/// `turbo check-attention`: the quantized-attention CUDA kernels against their TorchSharp references (every
/// preparation pass, then Sage and SageSLA whole, outputs poisoned, odd lengths, both head dims and tile shapes, with
/// and without key lengths) and their accuracy against exact attention, then their speed against torch's SDPA at Wan2.1's
/// shapes, pinned once to cuDNN's fused attention and once to FlashAttention. Exit 1 when a kernel disagrees with its reference. --bench-only, --shape and --only narrow a run to
/// the launches a profiler should see.
/// </summary>
static class CheckAttentionCommand
{
    public static Command Create()
    {
        var json = new Option<string?>("--json") { Description = "Also write the results as JSON to this file" };
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 0 };
        var warmup = new Option<int>("--warmup") { Description = "Calls before timing each method", DefaultValueFactory = _ => 2 };
        var repeats = new Option<int>("--repeats") { Description = "Timed calls per method (median reported)", DefaultValueFactory = _ => 7 };
        var backToBack = new Option<int>("--back-to-back")
        {
            Description = "Calls inside each timed region, its time divided by them: above 1, the host's work for a call overlaps the GPU's for " +
                          "the one before, so the timing is the GPU's alone (as in a model's forward, where the host runs ahead)",
            DefaultValueFactory = _ => 1,
        };
        var parityOnly = new Option<bool>("--parity-only") { Description = "Check the kernels without timing them" };
        var benchOnly = new Option<bool>("--bench-only") { Description = "Only time, skip the agreement checks" };
        var shape = new Option<string?>("--shape") { Description = "Time one model's shape only: 1.3b (H 12, L 32,760) or 14b (H 40, L 75,600)" };
        shape.AcceptOnlyFromAmong([.. AttentionBenchmark.Shapes.Select(s => s.Model)]);
        var only = new Option<string?>("--only") { Description = "Time only the methods whose names contain this text, e.g. \"95% sparse\" (SDPA, the baselines, always)" };
        var cmd = new Command("check-attention", "Check the quantized-attention CUDA kernels against their references and time them against SDPA (cuDNN and flash)");
        foreach (var o in new Option[] { json, seed, warmup, repeats, backToBack, parityOnly, benchOnly, shape, only }) cmd.Options.Add(o);
        cmd.SetAction(r => Run(r.GetValue(json), r.GetValue(seed), r.GetValue(warmup), r.GetValue(repeats), r.GetValue(backToBack),
            !r.GetValue(parityOnly), !r.GetValue(benchOnly), r.GetValue(shape), r.GetValue(only)));
        return cmd;
    }

    static int Run(string? jsonPath, int seed, int warmup, int repeats, int backToBack, bool bench, bool check, string? shape, string? only)
    {
        if (warmup < 0 || repeats < 1 || backToBack < 1) throw new TurboException("--warmup must be ≥ 0, --repeats and --back-to-back ≥ 1");
        if (!bench && !check) throw new TurboException("--parity-only and --bench-only together leave nothing to do");
        if (!bench && (shape is not null || only is not null || backToBack != 1))
            throw new TurboException("--shape, --only and --back-to-back shape the timings, which --parity-only skips");
        if (!cuda.is_available())
            throw new TurboException("check-attention runs on a CUDA GPU: this TorchSharp has no CUDA libtorch (see README, CUDA)");
        var device = CUDA;
        if (!TurboNative.HasAttentionKernels)
            throw new TurboException("check-attention needs the native library with the attention kernels: " + TurboNative.Describe());
        // Logs of GPU runs are files: give the tables room instead of a terminal's 80 columns.
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 180);
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(TurboNative.Describe())}[/]");
        manual_seed(seed);
        using var noGrad = no_grad();

        List<StageAgreement> stages = [];
        List<KernelAgreement> kernels = [];
        if (check)
        {
            SageKernels.PoisonOutputs = true;
            try
            {
                stages = AttentionParity.Stages(device);
                kernels = [.. AttentionParity.Sage(device), .. AttentionParity.SageSla(device), .. AttentionParity.SlaLinear(device)];
            }
            finally { SageKernels.PoisonOutputs = false; }
            ReportAgreement(stages, kernels);
        }

        var timings = bench ? AttentionBenchmark.Run(device, warmup, repeats, backToBack, shape, only) : [];
        if (bench) ReportTimings(timings);

        if (jsonPath is not null)
            File.WriteAllText(jsonPath, JsonSerializer.Serialize(new
            {
                date = DateTime.UtcNow.ToString("yyyy-MM-dd"),
                library = TurboNative.Describe(),
                seed, warmup, repeats, backToBack, stages, kernels, timings,
            }, new JsonSerializerOptions { WriteIndented = true }));

        bool ok = stages.All(s => s.Ok) && kernels.All(k => k.Ok);
        if (check)
            AnsiConsole.MarkupLine(ok ? "[green]all attention kernels agree with their references[/]"
                                      : "[red]attention kernels disagree with their references[/]");
        return ok ? 0 : 1;
    }

    static void ReportAgreement(List<StageAgreement> stages, List<KernelAgreement> kernels)
    {
        var st = new Table().Title("preparation passes vs reference").AddColumns("stage", "case", "measure", "value", "max |Δ|", "tol", "ok");
        foreach (var s in stages)
            st.AddRow(Markup.Escape(s.Stage), Markup.Escape(s.Case), s.Measure, $"{s.Error:E2}", $"{s.MaxAbsError:G3}", $"{s.Tolerance:E0}", Mark(s.Ok));
        AnsiConsole.Write(st);
        var kt = new Table().Title("kernels vs reference (same quantization) and vs exact attention")
            .AddColumns("kernel", "case", "dtype", "max rel", "rel L1", "NaN", "cos vs exact", "L1 vs exact", "ok");
        foreach (var k in kernels)
            kt.AddRow(k.Kernel, Markup.Escape(k.Case), k.DType, $"{k.MaxRelError:E2}", $"{k.RelativeL1:E2}", $"{k.NaNs}",
                $"{k.CosineVsExact:F5}", $"{k.L1VsExact:P2}", Mark(k.Ok));
        AnsiConsole.Write(kt);
        AnsiConsole.MarkupLine($"tolerances vs reference: max rel {AgreementRules.MaxRelTolerance(ScalarType.BFloat16):E0} (bf16), " +
            $"{AgreementRules.MaxRelTolerance(ScalarType.Float32):E0} (fp16/fp32); rel L1 {AgreementRules.L1Tolerance:E0}; " +
            $"cosine vs exact ≥ {AgreementRules.MinCosineVsExact}");
    }

    static void ReportTimings(List<AttentionTiming> timings)
    {
        var baselines = timings.SelectMany(r => r.SpeedupOver.Keys).Distinct().ToList();
        var t = new Table().Title("self-attention, B 1, D 128, bf16 (median of CUDA-event timings)")
            .AddColumns(["shape", "method", "ms", "dense TFLOP", "actual TFLOP", "effective TFLOP/s", "actual TFLOP/s",
                .. baselines.Select(b => Markup.Escape($"vs SDPA {b}"))]);
        foreach (var r in timings)
            t.AddRow([Markup.Escape(r.Shape), Markup.Escape(r.Method), $"{r.Ms:F2}", $"{r.DenseTflop:F1}", $"{r.ActualTflop:F2}",
                $"{r.EffectiveTflops:F0}", $"{r.ActualTflops:F0}",
                .. baselines.Select(b => r.SpeedupOver.TryGetValue(b, out double x) ? $"{x:F2}×" : "")]);
        AnsiConsole.Write(t);
    }

    static string Mark(bool ok) => ok ? "[green]yes[/]" : "[red]NO[/]";
}
