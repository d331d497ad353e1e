using TorchSharp;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Runtime.Quant;

/// <summary>
/// W8A8 Linear on the GPU through the bundled CUDA library: the input is quantized per token by a kernel (smoothing
/// division included), multiplied in INT8 with INT32 accumulation, and rescaled in float32 with the bias added —
/// the same numbers as <see cref="QuantizedLinear"/>, which is its reference (equal bit for bit; `turbo check-int8`
/// checks this on the GPU). While autograd records an input that requires grad, the reference runs instead (the
/// kernels have no backward). Created through <see cref="LinearKernels.For"/>, which falls back to the reference
/// where this kernel cannot run.
/// </summary>
public sealed class CudaInt8LinearKernel : ILinearKernel
{
    /// <param name="weight">an INT8 weight on a CUDA device (owned from now on)</param>
    /// <param name="gemm">the INT8 product to use; 128×128 block scales need <see cref="Int8Gemm.Mma"/>; <see cref="Int8Gemm.Wgmma"/> needs Hopper</param>
    public CudaInt8LinearKernel(QuantizedWeight weight, Int8Gemm gemm)
    {
        if (Unsupported(weight.Format, weight.Device.type, weight.OutFeatures, weight.InFeatures, gemm, TurboNative.HasInt8Kernels) is { } why)
            throw new TurboException($"CUDA int8 linear [{weight.OutFeatures}, {weight.InFeatures}]: {why}");
        Weight = weight;
        Gemm = gemm;
    }

    public QuantizedWeight Weight { get; }
    public Int8Gemm Gemm { get; }
    public long InFeatures => Weight.InFeatures;
    public long OutFeatures => Weight.OutFeatures;

    public string Description =>
        $"{Weight.Format.Id()}{(Weight.Smooth is null ? "" : " smoothed")} (CUDA, {Name(Gemm)})";

    /// <summary>How reports name each INT8 product.</summary>
    public static string Name(Int8Gemm gemm) => gemm switch
    {
        Int8Gemm.Mma => "mma",
        Int8Gemm.CublasLt => "cuBLASLt",
        _ => "wgmma",
    };

    /// <summary>
    /// Why this kernel cannot serve a weight of this kind, or null when it can: the CUDA library with the W8A8 kernels
    /// must be loaded (<paramref name="nativeAvailable"/>), the weight INT8 and on a CUDA device, and its shape one the
    /// chosen GEMM takes.
    /// </summary>
    public static string? Unsupported(QuantFormat format, DeviceType device, long outFeatures, long inFeatures, Int8Gemm gemm,
        bool nativeAvailable)
    {
        if (!nativeAvailable) return "the native CUDA library with the W8A8 kernels is not loaded";
        if (device != DeviceType.CUDA) return $"the weight is on {device}, not CUDA";
        if (!format.IsInt8()) return $"{format.Id()} has no CUDA kernel";
        if (format == QuantFormat.Int8Block128 && gemm != Int8Gemm.Mma) return "128×128 block scales need the mma kernel (cuBLASLt and wgmma take per-channel scales only)";
        if (gemm == Int8Gemm.Wgmma && !TurboNative.HasWgmmaInt8) return "the wgmma kernel needs a compute capability 9.0 GPU and the library built for sm_90a";
        return Int8Kernels.Unsupported(gemm, outFeatures, inFeatures);
    }

    public Tensor Forward(Tensor input, Tensor bias)
    {
        Weight.CheckCall(input, bias);
        using var rows = input.reshape(-1, InFeatures);
        using var output = is_grad_enabled() && input.requires_grad
            ? QuantizedLinear.Product(rows, Weight, bias, bias.dtype)
            : Product(rows, bias);
        return output.reshape([.. input.shape[..^1], OutFeatures]);
    }

    /// <summary>rows [M, K] → rows·Wᵀ + bias [M, N] in the bias's dtype, through the kernels.</summary>
    Tensor Product(Tensor rows, Tensor bias)
    {
        using var scope = NewDisposeScope();
        var (values, scale) = QuantizeInput(rows);
        return ProductOfQuantized(values, scale, bias).MoveToOuterDisposeScope();
    }

    /// <summary>The input's per-token quantization for this layer: rows [M, K] → Int8 values and Float32 scales [M].</summary>
    public (Tensor Values, Tensor Scale) QuantizeInput(Tensor rows)
    {
        // The kernels read float32, bfloat16 and float16 as they are; other dtypes go to float32 first, as the reference does.
        using var x = Int8Kernels.IsKernelFloat(rows.dtype) ? rows.alias() : rows.to(ScalarType.Float32);
        using (CudaProfiler.Scope("linear/quantize")) return Int8Kernels.QuantizeRows(x, Weight.Smooth);
    }

    /// <summary>
    /// The exact INT32 product of quantized rows [M, K] with the weight, through cuBLASLt whichever GEMM the layer's
    /// own product uses (the integers are the same; the fused kernels never write them).
    /// </summary>
    public Tensor Accumulate(Tensor values)
    {
        if (Int8Kernels.Unsupported(Int8Gemm.CublasLt, OutFeatures, InFeatures) is { } why) throw new TurboException($"CUDA int8 linear [{OutFeatures}, {InFeatures}]: {why}");
        using (CudaProfiler.Scope("linear/int8 gemm")) return Int8Kernels.MatmulInt32(values, Weight.Values, Int8Gemm.CublasLt);
    }

    /// <summary>Quantized rows (values, scales) → values·Wᵀ·scales + bias [M, N] in the bias's dtype.</summary>
    public Tensor ProductOfQuantized(Tensor values, Tensor scale, Tensor bias)
    {
        using var scope = NewDisposeScope();
        var outDtype = Int8Kernels.IsKernelFloat(bias.dtype) ? bias.dtype : ScalarType.Float32;
        var bias32 = bias.to(ScalarType.Float32);
        Tensor y;
        if (Gemm is Int8Gemm.Mma or Int8Gemm.Wgmma)
            using (CudaProfiler.Scope("linear/int8 gemm + epilogue"))
                y = Int8Kernels.Linear(values, scale, Weight.Values, Weight.Scale, Weight.Format, bias32, outDtype, Gemm);
        else
        {
            var accumulators = Accumulate(values);
            using (CudaProfiler.Scope("linear/epilogue")) y = Int8Kernels.Dequantize(accumulators, scale, Weight.Scale, bias32, outDtype);
        }
        return y.to(bias.dtype).MoveToOuterDisposeScope();
    }

    public void Dispose() => Weight.Dispose();
}
