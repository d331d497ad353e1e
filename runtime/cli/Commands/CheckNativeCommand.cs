using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Turbo.Runtime;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Cli.Commands;

/// <summary>
/// `turbo check-native`: the fused CUDA kernels against their TorchSharp references on fresh random inputs (poisoned
/// outputs, several shapes including odd sizes), then fused vs unfused timings at Wan's shapes. Exit 1 on disagreement.
/// </summary>
static class CheckNativeCommand
{
    public static Command Create()
    {
        var json = new Option<string?>("--json") { Description = "Also write the results as JSON to this file" };
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 0 };
        var cmd = new Command("check-native", "Check the bundled CUDA kernels against their references and time them");
        cmd.Options.Add(json);
        cmd.Options.Add(seed);
        cmd.SetAction(r => Run(r.GetValue(json), r.GetValue(seed)));
        return cmd;
    }

    record Agreement(string Op, string Shape, string DType, double MaxAbsError, double RelError, double Tolerance, bool Ok);
    record Timing(string Op, string Shape, double ReferenceMs, double NativeMs, double Speedup, double NativeGBps);

    static int Run(string? jsonPath, int seed)
    {
        var device = DeviceChoice.Resolve("cuda");
        if (!TurboNative.IsAvailable) throw new TurboException(TurboNative.Describe());
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(TurboNative.Describe())}[/]");
        manual_seed(seed);
        FusedOps.PoisonOutputs = true;
        var agreements = new List<Agreement>();
        foreach (var (b, l, d, hd) in new[] { (1, 1, 64, 32), (2, 33, 64, 32), (2, 9, 60, 6), (1, 777, 1536, 128), (2, 1001, 5120, 128), (1, 5, 8192, 128) })
            foreach (var dt in new[] { ScalarType.Float32, ScalarType.BFloat16 })
                agreements.AddRange(CheckShape(b, l, d, hd, dt, device));
        FusedOps.PoisonOutputs = false;

        var table = new Table().AddColumns("op", "shape", "dtype", "max |Δ|", "rel", "tol", "ok");
        foreach (var a in agreements)
            table.AddRow(a.Op, Markup.Escape(a.Shape), a.DType, $"{a.MaxAbsError:E2}", $"{a.RelError:E2}", $"{a.Tolerance:E0}", a.Ok ? "[green]yes[/]" : "[red]NO[/]");
        AnsiConsole.Write(table);

        var timings = new List<Timing>();
        foreach (var (l, d) in new[] { (32760, 1536), (32760, 5120), (75600, 5120) })
            timings.AddRange(TimeShape(l, d, device));
        var tt = new Table().AddColumns("op", "shape", "reference ms", "native ms", "speed-up", "native GB/s");
        foreach (var t in timings)
            tt.AddRow(Markup.Escape(t.Op), Markup.Escape(t.Shape), $"{t.ReferenceMs:F3}", $"{t.NativeMs:F3}", $"{t.Speedup:F2}×", $"{t.NativeGBps:F0}");
        AnsiConsole.Write(tt);

        if (jsonPath is not null)
            File.WriteAllText(jsonPath, JsonSerializer.Serialize(new { agreements, timings }, new JsonSerializerOptions { WriteIndented = true }));
        bool ok = agreements.All(a => a.Ok);
        AnsiConsole.MarkupLine(ok ? "[green]all native kernels agree with their references[/]" : "[red]native kernels disagree with their references[/]");
        return ok ? 0 : 1;
    }

    static IEnumerable<Agreement> CheckShape(int b, int l, int d, int hd, ScalarType dt, Device dev)
    {
        using var scope = NewDisposeScope();
        string shape = $"[{b},{l},{d}] hd{hd}";
        double tol = dt == ScalarType.Float32 ? 1e-5 : 1e-2;
        var x = randn(b, l, d, device: dev).mul(3).add(0.5).to(dt);
        var shift = randn(b, d, device: dev);
        var scale = randn(b, d, device: dev).mul(0.5);
        var w = randn(d, device: dev).mul(0.1).add(1);
        var bias = randn(d, device: dev).mul(0.1);
        yield return Compare("layernorm+modulate", shape, dt, tol,
            FusedOps.LayerNormModulateReference(x, null, null, shift, scale, 1e-6, dt),
            FusedOps.LayerNormModulateNative(x, null, null, shift, scale, 1e-6, dt));
        yield return Compare("layernorm affine", shape, dt, tol,
            FusedOps.LayerNormModulateReference(x, w, bias, null, null, 1e-6, dt),
            FusedOps.LayerNormModulateNative(x, w, bias, null, null, 1e-6, dt));
        var angles = rand(l, hd / 2, device: dev).mul(40);
        var (cos, sin) = (angles.cos(), angles.sin());
        yield return Compare("rmsnorm+rope", shape, dt, tol,
            FusedOps.RmsNormRopeReference(x, w, cos, sin, hd, 1e-6),
            FusedOps.RmsNormRopeNative(x, w, cos, sin, hd, 1e-6));
        yield return Compare("rmsnorm", shape, dt, tol,
            FusedOps.RmsNormRopeReference(x, w, null, null, hd, 1e-6),
            FusedOps.RmsNormRopeNative(x, w, null, null, hd, 1e-6));
        var residual = randn(b, l, d, device: dev);
        var gate = randn(b, d, device: dev);
        yield return Compare("gate+residual", shape, dt, 1e-5,
            FusedOps.GateResidualReference(residual, x, gate),
            FusedOps.GateResidualNative(residual, x, gate));
        yield return Compare("residual (no gate)", shape, dt, 1e-5,
            FusedOps.GateResidualReference(residual, x, null),
            FusedOps.GateResidualNative(residual, x, null));
        // The block's update and the next norm in one kernel: x' against the unfused update, the norm against the reference.
        foreach (var (op, g, weight, normBias, normShift, normScale) in new[]
                 {
                     ("gate+residual+layernorm+modulate", (Tensor?)gate, (Tensor?)null, (Tensor?)null, (Tensor?)shift, (Tensor?)scale),
                     ("residual+layernorm affine", null, w, bias, null, null),
                 })
        {
            var (expectedResidual, expectedNormed) = FusedOps.ResidualLayerNormModulateReference(residual, x, g, weight, normBias,
                normShift, normScale, 1e-6, dt);
            var (actualResidual, actualNormed) = FusedOps.ResidualLayerNormModulateNative(residual, x, g, weight, normBias, normShift,
                normScale, 1e-6, dt);
            yield return Compare($"{op}: residual", shape, dt, 1e-5, expectedResidual, actualResidual);
            yield return Compare($"{op}: norm", shape, dt, tol, expectedNormed, actualNormed);
        }
    }

    static Agreement Compare(string op, string shape, ScalarType dt, double tol, Tensor reference, Tensor native)
    {
        using var r = reference.to(ScalarType.Float64);
        using var n = native.to(ScalarType.Float64);
        double maxAbs = (r - n).abs().max().item<double>();
        double rel = maxAbs / Math.Max(r.abs().max().item<double>(), 1e-30);
        bool ok = !double.IsNaN(maxAbs) && rel <= tol;
        return new Agreement(op, shape, dt.ToString(), maxAbs, rel, tol, ok);
    }

    static IEnumerable<Timing> TimeShape(int l, int d, Device dev)
    {
        using var scope = NewDisposeScope();
        string shape = $"[1,{l},{d}]";
        var x = randn(1, l, d, device: dev);
        var xb = x.to(ScalarType.BFloat16);
        var shift = randn(1, d, device: dev);
        var scale = randn(1, d, device: dev);
        var w = randn(d, device: dev);
        var angles = rand(l, 64, device: dev);
        var (cos, sin) = (angles.cos(), angles.sin());
        long n = (long)l * d;
        // Bytes a perfect fused kernel must move: read fp32 x + write bf16; read bf16 + write bf16; read fp32 x, read bf16 y, write fp32 x.
        yield return Time("layernorm+modulate (f32→bf16)", shape, n * 6,
            () => FusedOps.LayerNormModulateReference(x, null, null, shift, scale, 1e-6, ScalarType.BFloat16).Dispose(),
            () => FusedOps.LayerNormModulateNative(x, null, null, shift, scale, 1e-6, ScalarType.BFloat16).Dispose());
        yield return Time("rmsnorm+rope (bf16)", shape, n * 4,
            () => FusedOps.RmsNormRopeReference(xb, w, cos, sin, 128, 1e-6).Dispose(),
            () => FusedOps.RmsNormRopeNative(xb, w, cos, sin, 128, 1e-6).Dispose());
        yield return Time("rmsnorm (bf16)", shape, n * 4,
            () => FusedOps.RmsNormRopeReference(xb, w, null, null, 128, 1e-6).Dispose(),
            () => FusedOps.RmsNormRopeNative(xb, w, null, null, 128, 1e-6).Dispose());
        yield return Time("gate+residual (bf16 y)", shape, n * 10,
            () => FusedOps.GateResidualReference(x, xb, shift).Dispose(),
            () => FusedOps.GateResidualNative(x, xb, shift).Dispose());
        // Here the first column is the two native kernels one after the other, not the TorchSharp reference.
        yield return Time("gate+residual+layernorm+modulate: the 2 kernels → fused", shape, n * 12,
            () =>
            {
                using var residual = FusedOps.GateResidualNative(x, xb, shift);
                FusedOps.LayerNormModulateNative(residual, null, null, shift, scale, 1e-6, ScalarType.BFloat16).Dispose();
            },
            () =>
            {
                var (residual, normed) = FusedOps.ResidualLayerNormModulateNative(x, xb, shift, null, null, shift, scale, 1e-6, ScalarType.BFloat16);
                residual.Dispose();
                normed.Dispose();
            });
        // What a W8A8 block does between its layers: the update, the norm and the next layer's per-token INT8 input
        // (no smoothing, the converter's default), as three kernels and as the quantizing norm's one. Bytes: read fp32 x
        // and bf16 y, write fp32 x' and the INT8 rows.
        yield return Time("gate+residual+layernorm+modulate+quantize: the 3 kernels → fused", shape, n * 11,
            () =>
            {
                using var residual = FusedOps.GateResidualNative(x, xb, shift);
                using var normed = FusedOps.LayerNormModulateNative(residual, null, null, shift, scale, 1e-6, ScalarType.BFloat16);
                var (values, rowScales) = Int8Kernels.QuantizeRows(normed.view(-1, d), null);
                values.Dispose();
                rowScales.Dispose();
            },
            () =>
            {
                var (residual, inputs) = Int8Kernels.ResidualLayerNormQuantize(x, xb, shift, null, null, shift, scale, 1e-6,
                    ScalarType.BFloat16, [null]);
                residual.Dispose();
                foreach (var (values, rowScales) in inputs)
                {
                    values.Dispose();
                    rowScales.Dispose();
                }
            });
    }

    static Timing Time(string op, string shape, long bytes, Action reference, Action native)
    {
        double refMs = CudaProfiler.MedianMs(reference, repeats: 20), natMs = CudaProfiler.MedianMs(native, repeats: 20);
        return new Timing(op, shape, refMs, natMs, refMs / natMs, bytes / (natMs * 1e6));
    }
}
