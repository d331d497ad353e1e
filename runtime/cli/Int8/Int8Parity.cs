using Turbo.Runtime.Models;
using Turbo.Runtime.Native;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Cli.Int8;

/// <summary>
/// The W8A8 CUDA kernels against the reference on fresh random inputs, with poisoned outputs (FusedOps.PoisonOutputs).
/// The reference runs on the CPU — the definition of correct, and the same numbers on every device since scales are
/// divided by tensors (QuantFormats.ScalesFromAbsMax). What must hold: quantized values and scales equal bit for bit;
/// the INT32 accumulators of both GEMMs equal the exact integer products; outputs within float32 rounding of the
/// reference (reported: whether they are also bit-identical, which the kernels' operation order is meant to give).
/// </summary>
public static partial class Int8Parity
{
    public sealed record Agreement(string Check, string Shape, string Detail, long Elements, long Mismatched, double MaxAbsDiff,
        double RelError, double Tolerance, bool Exact, bool Ok);

    /// <summary>One quantized layer to check: rows × k input, n outputs.</summary>
    public sealed record Case(long Rows, long K, long N, QuantFormat Format, ScalarType Input, bool Smoothed, ScalarType Output)
    {
        public string Shape => $"M {Rows} K {K} N {N}";
        public string Detail => $"{Format.Id()}, {Input}→{Output}{(Smoothed ? ", smoothed" : "")}";
    }

    /// <summary>
    /// Wan's k (1536, 5120, 8960, 13824) with odd and tile-edge row counts (1300 rows: a partial group of the CTA
    /// raster), small shapes with ragged tails in every dimension, one with many tiles per multiprocessor, and (k ≥ 4,096)
    /// the wgmma kernel's cooperative schedule, whose copy-engine stores go out in halves of 128 channels. n is kept
    /// moderate where k is large: the reference's exact float64 products run on the CPU.
    /// </summary>
    public static IReadOnlyList<Case> Cases()
    {
        var cases = new List<Case>();
        foreach (var (rows, k, n) in new (long, long, long)[]
                 {
                     (1, 1536, 1536), (37, 1536, 8960), (333, 8960, 1536), (1300, 5120, 1280), (257, 13824, 1152),
                     (129, 5120, 2304), (130, 144, 260), (75, 208, 100), (3, 48, 99),
                     (4300, 1536, 1536), // past three tiles per multiprocessor: the persistent schedule's consumers take turns
                     (1100, 8704, 4200), // a second tile for some CTAs; channels end inside a tile's first half
                 })
        {
            cases.Add(new Case(rows, k, n, QuantFormat.Int8PerChannel, ScalarType.BFloat16, Smoothed: true, ScalarType.BFloat16));
            cases.Add(new Case(rows, k, n, QuantFormat.Int8PerChannel, ScalarType.Float32, Smoothed: false, ScalarType.Float32));
            cases.Add(new Case(rows, k, n, QuantFormat.Int8Block128, ScalarType.Float32, Smoothed: rows % 2 == 1, ScalarType.Float32));
            if (rows == 129) // float16 outputs: the wgmma kernel's copy-engine stores in their other 16-bit format
                cases.Add(new Case(rows, k, n, QuantFormat.Int8PerChannel, ScalarType.BFloat16, Smoothed: false, ScalarType.Float16));
            if (Fp8Kernels.Unsupported(n, k) is null)
                cases.Add(new Case(rows, k, n, QuantFormat.Fp8E4M3PerChannel, ScalarType.BFloat16, Smoothed: rows % 2 == 1,
                    rows == 37 ? ScalarType.Float16 : ScalarType.BFloat16));
        }
        return cases;
    }

    public static List<Agreement> Run(Device device, Action<string> log)
    {
        var results = new List<Agreement>();
        FusedOps.PoisonOutputs = true;
        try
        {
            using var pause = CollectionPause.Begin();
            // The quantizer alone: odd widths (its scalar path), each input dtype on its 16-byte path, 16-bit rows held in
            // registers (a warp's up to 2,048 values, on either side of that, a block's up to 16,384), float32 rows and a
            // longer one (one warp, two passes).
            foreach (var (rows, cols, dtype, smoothed) in new (long, long, ScalarType, bool)[]
                     {
                         (5, 1001, ScalarType.BFloat16, true), (9, 13, ScalarType.Float32, false), (7, 77, ScalarType.Float16, true),
                         (2, 24, ScalarType.Float16, true), (33, 4096, ScalarType.Float16, false), (1100, 13824, ScalarType.BFloat16, true),
                         (64, 16384, ScalarType.Float32, false), (16, 16392, ScalarType.BFloat16, false),
                         (9, 2048, ScalarType.BFloat16, false), (9, 2056, ScalarType.Float16, true),
                     })
            {
                results.AddRange(CheckQuantization(rows, cols, dtype, smoothed, QuantFormat.Int8PerChannel, device));
                if (TurboNative.HasFp8Kernels) results.AddRange(CheckQuantization(rows, cols, dtype, smoothed, QuantFormat.Fp8E4M3PerChannel, device));
                pause.Checkpoint();
            }
            // The fused middle of a feed-forward block, both forms: odd widths (their scalar paths), Wan's hidden widths
            // and each hidden dtype (rows held in registers), rows beyond that (kept in shared memory by the requantizer,
            // two passes of the GELU quantizer) and beyond that (recomputed).
            foreach (var (rows, k, n, hidden, smoothed) in new (long, long, long, ScalarType, bool)[]
                     {
                         (7, 48, 101, ScalarType.BFloat16, true), (33, 1536, 8960, ScalarType.BFloat16, true),
                         (5, 5120, 13824, ScalarType.BFloat16, false), (9, 64, 260, ScalarType.Float32, true), (12, 96, 200, ScalarType.Float16, false),
                         (4, 64, 20000, ScalarType.BFloat16, true), (3, 32, 41000, ScalarType.BFloat16, true),
                     })
            {
                log($"parity gelu requantization M {rows} K {k} N {n} {hidden}");
                results.AddRange(CheckGeluRequantize(rows, k, n, hidden, smoothed, device));
                pause.Checkpoint();
            }
            // Quantization by the norm kernel: Wan's widths on the warp and block paths, an odd width, both kinds of norm.
            foreach (var (batch, tokens, dim, affine, model, layers) in new (long, long, long, bool, ScalarType, int)[]
                     {
                         (2, 33, 1536, false, ScalarType.BFloat16, 3), (1, 17, 1536, true, ScalarType.BFloat16, 1),
                         (1, 9, 5120, false, ScalarType.BFloat16, 3), (2, 5, 5120, true, ScalarType.Float32, 2),
                         (1, 7, 200, false, ScalarType.Float16, 2),
                     })
            {
                log($"parity layernorm quantization B {batch} L {tokens} D {dim} {model}");
                results.AddRange(CheckLayerNormQuantize(batch, tokens, dim, affine, model, layers, device));
                pause.Checkpoint();
            }
            foreach (var c in Cases())
            {
                if (c.Format == QuantFormat.Fp8E4M3PerChannel && !TurboNative.HasFp8Kernels) continue;
                log($"parity {c.Shape} {c.Detail}");
                results.AddRange(CheckCase(c, device));
                pause.Checkpoint();
            }
        }
        finally
        {
            FusedOps.PoisonOutputs = false;
        }
        return results;
    }

    /// <summary>Activations with channel-wise spread and a few outlier tokens, like a linear layer's input.</summary>
    static Tensor RandomInput(long rows, long cols, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var x = randn(rows, cols, device: device) * (rand(cols, device: device) * 4 + 0.1);
        x = x + (rand(rows, 1, device: device) > 0.9).to(ScalarType.Float32) * randn(rows, cols, device: device) * 20;
        return x.to(dtype).MoveToOuterDisposeScope();
    }

    static Tensor RandomSmoothing(long cols, Device device) => rand(cols, device: device) * 3 + 0.25;

    static List<Agreement> CheckQuantization(long rows, long cols, ScalarType dtype, bool smoothed, QuantFormat format, Device device)
    {
        using var scope = NewDisposeScope();
        var x = RandomInput(rows, cols, dtype, device);
        var smooth = smoothed ? RandomSmoothing(cols, device) : null;
        var values = format.IsInt8() ? zeros(1, cols, ScalarType.Int8) : zeros(1, cols, ScalarType.Byte);
        using var weight = QuantizedWeight.Create(format, values, ones(1), smooth?.cpu(), "parity weight");
        using var reference = QuantizedLinear.QuantizeInput(x.cpu(), weight);
        string shape = $"M {rows} K {cols}", detail = $"{format.Id()}, {dtype}{(smoothed ? ", smoothed" : "")}";
        var results = new List<Agreement>();
        Guarded(results, "quantization", shape, detail, () => QuantizationAgrees(reference, x, smooth, shape, detail));
        return results;
    }

    /// <summary>The kernel's codes and scales against the reference's, bit for bit (FP8: its values encoded as e4m3 codes).</summary>
    static Agreement[] QuantizationAgrees(QuantizedActivation reference, Tensor x, Tensor? smooth, string shape, string detail)
    {
        if (reference.Format.IsInt8())
        {
            var (values, scale) = Int8Kernels.QuantizeRows(x, smooth);
            return [Exactly("quantized values", shape, detail, reference.Values, values), Exactly("activation scales", shape, detail, reference.Scale, scale)];
        }
        var (codes, scales) = Fp8Kernels.QuantizeRows(x, smooth);
        return [Exactly("e4m3 codes", shape, detail, Fp8E4M3.Encode(reference.Values), codes), Exactly("activation scales", shape, detail, reference.Scale, scales)];
    }

    static List<Agreement> CheckCase(Case c, Device device)
    {
        using var scope = NewDisposeScope();
        var results = new List<Agreement>();
        var x = RandomInput(c.Rows, c.K, c.Input, device);
        var smooth = c.Smoothed ? RandomSmoothing(c.K, device) : null;
        var bias = (randn(c.N, device: device) * 0.1).to(c.Output);
        // The weight is quantized on the GPU (offline work, not under test here) and copied for the reference.
        using var weight = WeightQuantizer.Quantize(randn(c.N, c.K, device: device) * 0.05, c.Format, smooth, "parity weight");
        using var weightCpu = QuantizedWeight.Create(c.Format, weight.Values.cpu(), weight.Scale.cpu(), weight.Smooth?.cpu(), "parity weight");

        // Reference, on the CPU.
        using var quantized = QuantizedLinear.QuantizeInput(x.cpu(), weightCpu);
        var expected = ReferenceGemm.Compute(quantized, weightCpu, bias.cpu(), c.Output);

        // Quantization, bit for bit.
        Guarded(results, "quantization", c.Shape, c.Detail, () => QuantizationAgrees(quantized, x, smooth, c.Shape, c.Detail));
        if (c.Format == QuantFormat.Fp8E4M3PerChannel)
        {
            CheckFp8Product(results, c, quantized, weight, x, bias, expected);
            return results;
        }

        // The GEMMs from the reference's quantized activations, so that each stage is judged on its own.
        var q = quantized.Values.to(device);
        var sx = quantized.Scale.to(device);
        var bias32 = bias.to(ScalarType.Float32);
        if (c.Format == QuantFormat.Int8PerChannel)
        {
            var exactProduct = quantized.Values.to(ScalarType.Float64).matmul(weightCpu.Values.to(ScalarType.Float64).t());
            foreach (var gemm in Gemms())
            {
                if (Int8Kernels.Unsupported(gemm, c.N, c.K) is not null) continue;
                string name = CudaInt8LinearKernel.Name(gemm);
                Guarded(results, $"GEMM ({name})", c.Shape, c.Detail, () =>
                {
                    var acc = Int8Kernels.MatmulInt32(q, weight.Values, gemm);
                    Agreement accumulators = Exactly($"INT32 accumulators ({name})", c.Shape, c.Detail, exactProduct, acc);
                    return gemm switch
                    {
                        Int8Gemm.Mma => [accumulators, Close("output (mma, fused)", c.Shape, c.Detail, expected,
                            Int8Kernels.Linear(q, sx, weight.Values, weight.Scale, c.Format, bias32, c.Output))],
                        Int8Gemm.CublasLt => [accumulators, Close("output (cuBLASLt + epilogue)", c.Shape, c.Detail, expected,
                            Int8Kernels.Dequantize(acc, sx, weight.Scale, bias32, c.Output))],
                        _ => [accumulators, Close("output (wgmma, fused)", c.Shape, c.Detail, expected,
                            Int8Kernels.Linear(q, sx, weight.Values, weight.Scale, c.Format, bias32, c.Output, Int8Gemm.Wgmma))],
                    };
                });
            }
        }
        else
        {
            Guarded(results, "GEMM (mma)", c.Shape, c.Detail, () =>
                [Close("output (mma, fused)", c.Shape, c.Detail, expected,
                    Int8Kernels.Linear(q, sx, weight.Values, weight.Scale, c.Format, bias32, c.Output))]);
        }

        // The layer as the model calls it: a 3-D input through CudaInt8LinearKernel (quantization included).
        foreach (var gemm in Gemms())
        {
            if (CudaInt8LinearKernel.Unsupported(c.Format, device.type, c.N, c.K, gemm, TurboNative.HasInt8Kernels) is not null) continue;
            string name = $"CudaInt8LinearKernel ({CudaInt8LinearKernel.Name(gemm)})";
            Guarded(results, name, c.Shape, c.Detail, () =>
            {
                using var kernel = new CudaInt8LinearKernel(QuantizedWeight.Create(c.Format, weight.Values.clone(), weight.Scale.clone(),
                    weight.Smooth?.clone(), "parity weight"), gemm);
                return [Close(name, c.Shape, c.Detail, expected, kernel.Forward(x.unsqueeze(0), bias).squeeze(0))];
            });
        }
        return results;
    }

    /// <summary>The INT8 products this GPU runs: mma and cuBLASLt everywhere, wgmma on Hopper.</summary>
    static Int8Gemm[] Gemms() => TurboNative.HasWgmmaInt8 ? [Int8Gemm.Mma, Int8Gemm.CublasLt, Int8Gemm.Wgmma] : [Int8Gemm.Mma, Int8Gemm.CublasLt];

    /// <summary>
    /// Int8Kernels.GeluRequantize against the reference chain (ReferenceGemm in the hidden dtype, GELU on the CPU, the
    /// second layer's input quantization), Int8Kernels.GeluQuantizeRows against the chain's last two steps, and
    /// Int8FeedForward against the unfused CUDA layers. GELU's tanh differs between libraries in the last bit, so codes
    /// may differ by one and scales by a step of the hidden dtype.
    /// </summary>
    static List<Agreement> CheckGeluRequantize(long rows, long k, long n, ScalarType hidden, bool smoothed, Device device)
    {
        using var scope = NewDisposeScope();
        var results = new List<Agreement>();
        string shape = $"M {rows} K {k} N {n}", detail = $"{hidden}{(smoothed ? ", smoothed" : "")}";
        var x = RandomInput(rows, k, ScalarType.Float32, device).cpu();
        var bias = (randn(n) * 0.5).to(hidden);
        using var first = WeightQuantizer.Quantize(randn(n, k) * 0.05, QuantFormat.Int8PerChannel);
        var secondSmooth = smoothed ? RandomSmoothing(n, device).cpu() : null;
        using var second = QuantizedWeight.Create(QuantFormat.Int8PerChannel, zeros(1, n, ScalarType.Int8), ones(1), secondSmooth, "parity weight");
        using var input = QuantizedLinear.QuantizeInput(x, first);
        var acc = input.Values.to(ScalarType.Float64).matmul(first.Values.to(ScalarType.Float64).t()).to(ScalarType.Int32);
        var activations = ReferenceGemm.Compute(input, first, bias, hidden);
        using var expected = QuantizedLinear.QuantizeInput(WanMlp.GeluTanh(activations), second);
        double scaleTolerance = hidden == ScalarType.Float32 ? 1e-6 : 8e-3;
        Guarded(results, "gelu requantization", shape, detail, () =>
        {
            var (values, scale) = Int8Kernels.GeluRequantize(acc.to(device), input.Scale.to(device), first.Scale.to(device),
                bias.to(ScalarType.Float32).to(device), hidden, secondSmooth?.to(device));
            return [WithinOneCode("gelu requantization: codes", shape, detail, expected.Values, values),
                Close("gelu requantization: scales", shape, detail, expected.Scale, scale, scaleTolerance)];
        });
        Guarded(results, "gelu quantization", shape, detail, () =>
        {
            var (values, scale) = Int8Kernels.GeluQuantizeRows(activations.to(device), secondSmooth?.to(device));
            return [WithinOneCode("gelu quantization: codes", shape, detail, expected.Values, values),
                Close("gelu quantization: scales", shape, detail, expected.Scale, scale, scaleTolerance)];
        });
        foreach (var gemm in new[] { Int8Gemm.CublasLt, Int8Gemm.Wgmma })
            if (hidden == ScalarType.BFloat16 && Int8Kernels.Unsupported(gemm, n, k) is null && Int8Kernels.Unsupported(gemm, k, n) is null
                && (gemm != Int8Gemm.Wgmma || TurboNative.HasWgmmaInt8))
                Guarded(results, $"Int8FeedForward ({CudaInt8LinearKernel.Name(gemm)})", shape, detail,
                    () => [CheckFeedForward(rows, k, n, smoothed, gemm, device, shape, detail)]);
        return results;
    }

    /// <summary>A bf16 feed-forward block with INT8 layers on one GEMM: fused (Int8FeedForward) against first → GELU → second.</summary>
    static Agreement CheckFeedForward(long rows, long dim, long hidden, bool smoothed, Int8Gemm gemm, Device device, string shape, string detail)
    {
        using var scope = NewDisposeScope();
        using var first = Int8Layer(dim, hidden, smoothed ? RandomSmoothing(dim, device) : null, gemm, device);
        using var second = Int8Layer(hidden, dim, smoothed ? RandomSmoothing(hidden, device) : null, gemm, device);
        using var noGrad = no_grad();
        var x = RandomInput(rows, dim, ScalarType.BFloat16, device).unsqueeze(0);
        var fused = Int8FeedForward.TryForward(first, second, NormedInput.Wrap(x)) ?? throw new InvalidOperationException("the fused path did not apply");
        var unfused = second.call(WanMlp.GeluTanh(first.call(x)));
        return Close($"Int8FeedForward ({CudaInt8LinearKernel.Name(gemm)}) vs unfused layers", shape, detail, unfused, fused);
    }

    /// <summary>A bf16 WanLinear computed by an INT8 kernel on <paramref name="gemm"/>, with random weights, bias and (optionally) smoothing.</summary>
    static WanLinear Int8Layer(long inFeatures, long outFeatures, Tensor? smooth, Int8Gemm gemm, Device device)
    {
        var layer = new WanLinear(inFeatures, outFeatures, ScalarType.BFloat16, device);
        using (no_grad()) layer.Bias.copy_(randn(outFeatures, device: device) * 0.1);
        layer.UseKernel(new CudaInt8LinearKernel(
            WeightQuantizer.Quantize(randn(outFeatures, inFeatures, device: device) * 0.05, QuantFormat.Int8PerChannel, smooth, "parity weight"),
            gemm));
        return layer;
    }

    /// <summary>Integer codes that may differ by one (a last-bit difference before rounding) in at most 0.1% of elements.</summary>
    static Agreement WithinOneCode(string check, string shape, string detail, Tensor reference, Tensor actual)
    {
        var exact = Exactly(check, shape, detail, reference, actual);
        bool ok = exact.MaxAbsDiff <= 1 && exact.Mismatched <= exact.Elements / 1000;
        return exact with { Tolerance = 1, Ok = ok };
    }

    /// <summary>The FP8 GEMM from the reference's codes, and the layer as the model calls it (CudaFp8LinearKernel).</summary>
    static void CheckFp8Product(List<Agreement> results, Case c, QuantizedActivation quantized, QuantizedWeight weight, Tensor x,
        Tensor bias, Tensor expected)
    {
        var device = x.device;
        Guarded(results, "GEMM (cuBLASLt FP8)", c.Shape, c.Detail, () =>
        {
            var codes = Fp8E4M3.Encode(quantized.Values).to(device);
            var y = Fp8Kernels.Linear(codes, quantized.Scale.to(device), weight.Values, weight.Scale, bias, c.Output);
            return [Close("output (cuBLASLt FP8, scales and bias fused)", c.Shape, c.Detail, expected, y)];
        });
        Guarded(results, "CudaFp8LinearKernel", c.Shape, c.Detail, () =>
        {
            using var kernel = new CudaFp8LinearKernel(QuantizedWeight.Create(c.Format, weight.Values.clone(), weight.Scale.clone(),
                weight.Smooth?.clone(), "parity weight"));
            return [Close("CudaFp8LinearKernel", c.Shape, c.Detail, expected, kernel.Forward(x.unsqueeze(0), bias).squeeze(0))];
        });
    }

    /// <summary>
    /// Runs checks; an error of the native library (a CUDA error, or cuBLASLt refusing a shape) becomes a failed
    /// row naming it, so that one failure does not hide the other results.
    /// </summary>
    static void Guarded(List<Agreement> results, string check, string shape, string detail, Func<IEnumerable<Agreement>> run)
    {
        try
        {
            results.AddRange(run());
        }
        catch (InvalidOperationException e)
        {
            results.Add(new Agreement(check, shape, $"{detail}: {e.Message}", 0, 0, double.NaN, double.NaN, 0, false, false));
        }
    }

    static Agreement Exactly(string check, string shape, string detail, Tensor reference, Tensor actual)
    {
        using var scope = NewDisposeScope();
        var r = reference.cpu().to(ScalarType.Float64);
        var a = actual.cpu().to(ScalarType.Float64);
        long mismatched = r.ne(a).sum().item<long>(); // NaN (a poisoned, unwritten element) counts as a mismatch
        double maxAbs = (r - a).abs().nan_to_num(double.PositiveInfinity).max().item<double>();
        double rel = maxAbs / Math.Max(r.abs().max().item<double>(), 1e-30);
        return new Agreement(check, shape, detail, r.numel(), mismatched, maxAbs, rel, 0, mismatched == 0, mismatched == 0);
    }

    /// <summary>Within float32 rounding of the output dtype, measured against the largest reference magnitude.</summary>
    static Agreement Close(string check, string shape, string detail, Tensor reference, Tensor actual, double? relTolerance = null)
    {
        double tolerance = relTolerance ?? reference.dtype switch
        {
            ScalarType.BFloat16 => 8e-3, // two bf16 steps (2⁻⁸ relative): a last-bit float32 difference can round either way
            ScalarType.Float16 => 1e-3,
            _ => 1e-6,
        };
        var exact = Exactly(check, shape, detail, reference, actual);
        bool ok = !double.IsNaN(exact.RelError) && !double.IsInfinity(exact.MaxAbsDiff) && exact.RelError <= tolerance;
        return exact with { Tolerance = tolerance, Ok = ok };
    }
}
