using TorchSharp;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Runtime.Quant;

/// <summary>
/// FP8 (e4m3) W8A8 Linear on the GPU: the input is quantized per token to e4m3 by a kernel (smoothing division
/// included), then cuBLASLt's FP8 GEMM multiplies with float32 accumulation and applies both scales and the bias as
/// it writes the output — one pass fewer than the INT8 path, whose INT32 result needs an epilogue kernel. Reference:
/// <see cref="QuantizedLinear"/> (codes equal bit for bit, outputs within float32 rounding; `turbo check-int8`
/// checks both on the GPU). Outputs in bf16 or f16 (the model's compute dtype on a GPU); a float32 layer, or one
/// that autograd records, runs the reference. Created through <see cref="LinearKernels.For"/>.
/// </summary>
public sealed class CudaFp8LinearKernel : ILinearKernel
{
    /// <param name="weight">an FP8 weight on a CUDA device (owned from now on)</param>
    public CudaFp8LinearKernel(QuantizedWeight weight)
    {
        if (Unsupported(weight.Format, weight.Device.type, weight.OutFeatures, weight.InFeatures, TurboNative.HasFp8Kernels) is { } why)
            throw new TurboException($"CUDA fp8 linear [{weight.OutFeatures}, {weight.InFeatures}]: {why}");
        Weight = weight;
    }

    public QuantizedWeight Weight { get; }
    public long InFeatures => Weight.InFeatures;
    public long OutFeatures => Weight.OutFeatures;
    public string Description => $"{Weight.Format.Id()}{(Weight.Smooth is null ? "" : " smoothed")} (CUDA, cuBLASLt)";

    /// <summary>
    /// Why this kernel cannot serve a weight of this kind, or null when it can: the library's FP8 kernels usable on
    /// this GPU (<paramref name="fp8Available"/>), an FP8 weight on a CUDA device, and a shape cuBLASLt's FP8 GEMM takes.
    /// </summary>
    public static string? Unsupported(QuantFormat format, DeviceType device, long outFeatures, long inFeatures, bool fp8Available)
    {
        if (format != QuantFormat.Fp8E4M3PerChannel) return $"{format.Id()} is not fp8";
        if (!fp8Available) return "the native CUDA library's FP8 linear kernel is not available here (cuBLAS 12.9+ and a GPU of compute capability 9.0+)";
        if (device != DeviceType.CUDA) return $"the weight is on {device}, not CUDA";
        return Fp8Kernels.Unsupported(outFeatures, inFeatures);
    }

    public Tensor Forward(Tensor input, Tensor bias)
    {
        Weight.CheckCall(input, bias);
        using var rows = input.reshape(-1, InFeatures);
        bool reference = (is_grad_enabled() && input.requires_grad) || bias.dtype is not (ScalarType.BFloat16 or ScalarType.Float16);
        using var output = reference ? QuantizedLinear.Product(rows, Weight, bias, bias.dtype) : Product(rows, bias);
        return output.reshape([.. input.shape[..^1], OutFeatures]);
    }

    /// <summary>rows [M, K] → rows·Wᵀ + bias [M, N] in the bias's dtype (bf16 or f16), through the kernels.</summary>
    Tensor Product(Tensor rows, Tensor bias)
    {
        using var scope = NewDisposeScope();
        // The quantizer reads float32, bfloat16 and float16 as they are; other dtypes go to float32 first, as the reference does.
        var x = Int8Kernels.IsKernelFloat(rows.dtype) ? rows : rows.to(ScalarType.Float32);
        Tensor codes, scale, y;
        using (CudaProfiler.Scope("linear/quantize")) (codes, scale) = Fp8Kernels.QuantizeRows(x, Weight.Smooth);
        using (CudaProfiler.Scope("linear/fp8 gemm + epilogue")) y = Fp8Kernels.Linear(codes, scale, Weight.Values, Weight.Scale, bias, bias.dtype);
        return y.MoveToOuterDisposeScope();
    }

    public void Dispose() => Weight.Dispose();
}
