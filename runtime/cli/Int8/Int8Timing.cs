using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Runtime.Native;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Cli.Int8;

/// <summary>
/// W8A8 against bf16 at Wan2.1's linear shapes: the bf16 layer (torch linear, cuBLAS), the INT8 layer
/// (per-token quantization + INT8 GEMM + epilogue, through CudaInt8LinearKernel) for each GEMM (mma, cuBLASLt, and
/// wgmma on Hopper), the FP8 layer where the
/// GPU has it (quantization + cuBLASLt FP8 GEMM with scales and bias fused, CudaFp8LinearKernel), and each stage on its own
/// so the time can be placed. CUDA-event medians after warm-up (CudaProfiler.MedianMs). Inputs are bf16 and random
/// (never zeros: a tensor-core product of zeros runs faster than of real data); no smoothing (one more division per
/// input element of a memory-bound pass).
/// </summary>
public static class Int8Timing
{
    /// <summary>A linear layer's weight shape: k input and n output features.</summary>
    public sealed record Layer(string Model, string Name, long K, long N);

    /// <summary>Wan2.1's block linears: attention q, k, v, o (dim → dim) and the FFN (dim → ffn → dim).</summary>
    public static readonly Layer[] WanLayers =
    [
        new("1.3B", "attn q/k/v/o", 1536, 1536), new("1.3B", "ffn.0", 1536, 8960), new("1.3B", "ffn.2", 8960, 1536),
        new("14B", "attn q/k/v/o", 5120, 5120), new("14B", "ffn.0", 5120, 13824), new("14B", "ffn.2", 13824, 5120),
    ];

    /// <summary>Video tokens of a 81-frame clip at 480p (21 × 30 × 52) and at 720p (21 × 45 × 80).</summary>
    public static readonly long[] Tokens = [32760, 75600];

    /// <summary>Milliseconds (medians) of one shape.</summary>
    public sealed record Row(string Model, string Layer, long M, long K, long N,
        double Bf16Ms, double QuantizeMs, double MmaFusedMs, double MmaInt32Ms, double CublasLtInt32Ms, double DequantizeMs,
        double MmaBlockFusedMs, double LayerMmaMs, double LayerCublasLtMs, double LayerMmaBlockMs,
        double Fp8QuantizeMs, double Fp8GemmMs, double LayerFp8Ms, double FfnMiddleMs, double FfnMiddleFusedMs,
        double NormQkvMs, double NormQkvFusedMs, double WgmmaInt32Ms, double WgmmaFusedMs, double LayerWgmmaMs,
        double GeluQuantizeMs, double FfnFirstCublasLtMs, double FfnFirstWgmmaMs)
    {
        public double Flop => 2.0 * M * K * N;
        public double Bf16Tflops => Tflops(Bf16Ms);
        public double LayerMmaTflops => Tflops(LayerMmaMs);
        public double LayerCublasLtTflops => Tflops(LayerCublasLtMs);
        public double MmaInt32Tops => Tflops(MmaInt32Ms);
        public double CublasLtInt32Tops => Tflops(CublasLtInt32Ms);
        public double SpeedupMma => Bf16Ms / LayerMmaMs;
        public double SpeedupCublasLt => Bf16Ms / LayerCublasLtMs;
        public double SpeedupMmaBlock => Bf16Ms / LayerMmaBlockMs;
        public double Fp8GemmTflops => Tflops(Fp8GemmMs);
        public double LayerFp8Tflops => Tflops(LayerFp8Ms);
        public double SpeedupFp8 => Bf16Ms / LayerFp8Ms;
        public double WgmmaInt32Tops => Tflops(WgmmaInt32Ms);
        public double WgmmaFusedTops => Tflops(WgmmaFusedMs);
        public double LayerWgmmaTflops => Tflops(LayerWgmmaMs);
        public double SpeedupWgmma => Bf16Ms / LayerWgmmaMs;

        /// <summary>The fastest per-channel INT8 layer of this shape.</summary>
        public string FasterPerChannel => new[] { ("mma", LayerMmaMs), ("cuBLASLt", LayerCublasLtMs), ("wgmma", LayerWgmmaMs) }
            .Where(c => !double.IsNaN(c.Item2)).MinBy(c => c.Item2).Item1;
        double Tflops(double ms) => Flop / (ms * 1e9);
    }

    /// <summary>The models <see cref="Select"/> takes, as a command line names them.</summary>
    public static readonly string[] ModelNames = [.. WanLayers.Select(l => l.Model.ToLowerInvariant()).Distinct()];

    /// <summary>
    /// The layers of <paramref name="model"/> (<see cref="ModelNames"/>; null: all) whose names contain
    /// <paramref name="only"/> (null: all); a clear error when none is left.
    /// </summary>
    public static Layer[] Select(string? model, string? only)
    {
        var layers = WanLayers.Where(l => (model is null || l.Model.Equals(model, StringComparison.OrdinalIgnoreCase)) &&
                                          (only is null || l.Name.Contains(only, StringComparison.OrdinalIgnoreCase))).ToArray();
        if (layers.Length == 0)
            throw new TurboException($"no layer{(model is null ? "" : $" of {model}")} matches \"{only}\"; the layers: " +
                                     string.Join(", ", WanLayers.Select(l => l.Name).Distinct()));
        return layers;
    }

    /// <summary>Each of <paramref name="layers"/> at each token count of <see cref="Tokens"/>.</summary>
    public static List<Row> Run(Device device, int warmup, int repeats, IReadOnlyList<Layer> layers, Action<string> log)
    {
        var rows = new List<Row>();
        using var noGrad = no_grad();
        using var pause = CollectionPause.Begin();
        foreach (long m in Tokens)
            foreach (var layer in layers)
            {
                log($"timing {layer.Model} {layer.Name} M {m} K {layer.K} N {layer.N}");
                rows.Add(Measure(layer, m, device, warmup, repeats));
                pause.Checkpoint();
            }
        return rows;
    }

    static Row Measure(Layer layer, long m, Device device, int warmup, int repeats)
    {
        using var scope = NewDisposeScope();
        double Time(Action op)
        {
            try
            {
                return CudaProfiler.MedianMs(op, warmup, repeats);
            }
            catch (InvalidOperationException e) // the library's error (e.g. cuBLASLt refusing a shape): no time, the rest goes on
            {
                Console.Error.WriteLine($"  not timed: {e.Message}");
                return double.NaN;
            }
        }
        var x = randn(m, layer.K, dtype: ScalarType.BFloat16, device: device);
        var weight = randn(layer.N, layer.K, device: device) * 0.05;
        var weightBf16 = weight.to(ScalarType.BFloat16);
        var bias = (randn(layer.N, device: device) * 0.1).to(ScalarType.BFloat16);
        var bias32 = bias.to(ScalarType.Float32);
        using var channel = WeightQuantizer.Quantize(weight, QuantFormat.Int8PerChannel);
        using var block = WeightQuantizer.Quantize(weight, QuantFormat.Int8Block128);
        var (q, sx) = Int8Kernels.QuantizeRows(x, null);
        var acc = Int8Kernels.MatmulInt32(q, channel.Values, Int8Gemm.Mma); // the epilogue's input: any INT32 product will do

        double bf16 = Time(() => nn.functional.linear(x, weightBf16, bias).Dispose());
        double quantize = Time(() =>
        {
            var (values, scale) = Int8Kernels.QuantizeRows(x, null);
            values.Dispose();
            scale.Dispose();
        });
        double mmaFused = Time(() => Int8Kernels.Linear(q, sx, channel.Values, channel.Scale, channel.Format, bias32, ScalarType.BFloat16).Dispose());
        double mmaInt32 = Time(() => Int8Kernels.MatmulInt32(q, channel.Values, Int8Gemm.Mma).Dispose());
        double cublasLtInt32 = Time(() => Int8Kernels.MatmulInt32(q, channel.Values, Int8Gemm.CublasLt).Dispose());
        double dequantize = Time(() => Int8Kernels.Dequantize(acc, sx, channel.Scale, bias32, ScalarType.BFloat16).Dispose());
        double mmaBlock = Time(() => Int8Kernels.Linear(q, sx, block.Values, block.Scale, block.Format, bias32, ScalarType.BFloat16).Dispose());

        double LayerMs(QuantFormat format, Int8Gemm gemm)
        {
            using var kernel = new CudaInt8LinearKernel(WeightQuantizer.Quantize(weight, format), gemm);
            return Time(() => kernel.Forward(x, bias).Dispose());
        }

        // FP8 e4m3 (where the library and GPU have it): quantize, then cuBLASLt's GEMM with scales and bias fused.
        double fp8Quantize = double.NaN, fp8Gemm = double.NaN, layerFp8 = double.NaN;
        if (TurboNative.HasFp8Kernels)
        {
            using var fp8 = WeightQuantizer.Quantize(weight, QuantFormat.Fp8E4M3PerChannel);
            var (codes, sx8) = Fp8Kernels.QuantizeRows(x, null);
            fp8Quantize = Time(() =>
            {
                var (c, s) = Fp8Kernels.QuantizeRows(x, null);
                c.Dispose();
                s.Dispose();
            });
            fp8Gemm = Time(() => Fp8Kernels.Linear(codes, sx8, fp8.Values, fp8.Scale, bias, ScalarType.BFloat16).Dispose());
            using var kernel = new CudaFp8LinearKernel(WeightQuantizer.Quantize(weight, QuantFormat.Fp8E4M3PerChannel));
            layerFp8 = Time(() => kernel.Forward(x, bias).Dispose());
        }

        // The middle of a feed-forward block after its first layer (ffn.0): epilogue, GELU and the second layer's input
        // quantization as three passes, and fused into one. Then Int8FeedForward's two routes from the quantized input to
        // the second layer's: cuBLASLt's INT32 product + the fused middle, and (Hopper) wgmma with its epilogue + GELU
        // and quantization in one pass.
        double ffnMiddle = double.NaN, ffnMiddleFused = double.NaN, geluQuantize = double.NaN, ffnFirstCublasLt = double.NaN,
            ffnFirstWgmma = double.NaN;
        if (layer.Name == "ffn.0")
        {
            ffnMiddle = Time(() =>
            {
                using var h = Int8Kernels.Dequantize(acc, sx, channel.Scale, bias32, ScalarType.BFloat16);
                using var g = WanMlp.GeluTanh(h);
                var (v, sc) = Int8Kernels.QuantizeRows(g, null);
                v.Dispose();
                sc.Dispose();
            });
            ffnMiddleFused = Time(() =>
            {
                var (v, sc) = Int8Kernels.GeluRequantize(acc, sx, channel.Scale, bias32, ScalarType.BFloat16, null);
                v.Dispose();
                sc.Dispose();
            });
            using var hidden = Int8Kernels.Dequantize(acc, sx, channel.Scale, bias32, ScalarType.BFloat16);
            geluQuantize = Time(() =>
            {
                var (v, sc) = Int8Kernels.GeluQuantizeRows(hidden, null);
                v.Dispose();
                sc.Dispose();
            });
            ffnFirstCublasLt = Time(() =>
            {
                using var product = Int8Kernels.MatmulInt32(q, channel.Values, Int8Gemm.CublasLt);
                var (v, sc) = Int8Kernels.GeluRequantize(product, sx, channel.Scale, bias32, ScalarType.BFloat16, null);
                v.Dispose();
                sc.Dispose();
            });
            if (TurboNative.HasWgmmaInt8)
                ffnFirstWgmma = Time(() =>
                {
                    using var h = Int8Kernels.Linear(q, sx, channel.Values, channel.Scale, channel.Format, bias32, ScalarType.BFloat16, Int8Gemm.Wgmma);
                    var (v, sc) = Int8Kernels.GeluQuantizeRows(h, null);
                    v.Dispose();
                    sc.Dispose();
                });
        }

        // The inputs of self-attention's q, k and v from the modulated LayerNorm before them (the float32 residual
        // stream in, each layer smoothed): the norm, then three quantizations, against the norm kernel quantizing itself.
        double normQkv = double.NaN, normQkvFused = double.NaN;
        if (layer.Name == "attn q/k/v/o")
        {
            var residual = randn(1, m, layer.K, device: device);
            var (shift, scale) = (randn(1, layer.K, device: device), randn(1, layer.K, device: device) * 0.5);
            var smooths = Enumerable.Range(0, 3).Select(_ => rand(layer.K, device: device) + 0.5).ToArray();
            normQkv = Time(() =>
            {
                using var normed = FusedOps.LayerNormModulateNative(residual, null, null, shift, scale, 1e-6, ScalarType.BFloat16);
                using var rows = normed.view(-1, layer.K);
                foreach (var smooth in smooths)
                {
                    var (v, sc) = Int8Kernels.QuantizeRows(rows, smooth);
                    v.Dispose();
                    sc.Dispose();
                }
            });
            normQkvFused = Time(() =>
            {
                foreach (var (v, sc) in Int8Kernels.LayerNormQuantize(residual, null, null, shift, scale, 1e-6, ScalarType.BFloat16, smooths))
                {
                    v.Dispose();
                    sc.Dispose();
                }
            });
        }

        // The Hopper kernel: the INT32 product alone, the product with its epilogue, the layer.
        double wgmmaInt32 = double.NaN, wgmmaFused = double.NaN, layerWgmma = double.NaN;
        if (TurboNative.HasWgmmaInt8)
        {
            wgmmaInt32 = Time(() => Int8Kernels.MatmulInt32(q, channel.Values, Int8Gemm.Wgmma).Dispose());
            wgmmaFused = Time(() => Int8Kernels.Linear(q, sx, channel.Values, channel.Scale, channel.Format, bias32, ScalarType.BFloat16, Int8Gemm.Wgmma).Dispose());
            layerWgmma = LayerMs(QuantFormat.Int8PerChannel, Int8Gemm.Wgmma);
        }

        return new Row(layer.Model, layer.Name, m, layer.K, layer.N, bf16, quantize, mmaFused, mmaInt32, cublasLtInt32, dequantize,
            mmaBlock, LayerMs(QuantFormat.Int8PerChannel, Int8Gemm.Mma), LayerMs(QuantFormat.Int8PerChannel, Int8Gemm.CublasLt),
            LayerMs(QuantFormat.Int8Block128, Int8Gemm.Mma), fp8Quantize, fp8Gemm, layerFp8, ffnMiddle, ffnMiddleFused,
            normQkv, normQkvFused, wgmmaInt32, wgmmaFused, layerWgmma, geluQuantize, ffnFirstCublasLt, ffnFirstWgmma);
    }
}
