using Turbo.Runtime.Native;

namespace Turbo.Runtime.Quant;

/// <summary>Chooses how a quantized Linear layer is computed: on the GPU where the CUDA kernels (INT8 or FP8) can run it, else by the reference.</summary>
public static class LinearKernels
{
    /// <summary>
    /// The INT8 product for per-channel weights of <paramref name="inFeatures"/> inputs; 128×128 block weights always
    /// take <see cref="Int8Gemm.Mma"/>. The Hopper kernel where it runs and k ≤ <see cref="WgmmaMaxInFeatures"/>, else
    /// cuBLASLt — by measurement (`turbo check-int8`, one H200,
    /// docs/PERF.md): with its epilogue fused the wgmma kernel beats cuBLASLt's INT32 GEMM plus the epilogue pass at
    /// k = 1,536 and 5,120, while at k = 8,960 and 13,824 cuBLASLt's GEMM runs faster (1,520 against 1,265 TOP/s).
    /// cuBLASLt in turn runs at 2.0–2.7× the fused mma.sync kernel, which more than pays for its INT32 round trip.
    /// </summary>
    public static Int8Gemm PerChannelGemm(long inFeatures) =>
        TurboNative.HasWgmmaInt8 && inFeatures <= WgmmaMaxInFeatures ? Int8Gemm.Wgmma : Int8Gemm.CublasLt;

    /// <summary>The largest k the default sends to the wgmma kernel.</summary>
    public const long WgmmaMaxInFeatures = 8192;

    /// <summary>A kernel for <paramref name="weight"/> (which it takes ownership of): CUDA INT8 or FP8, or the reference.</summary>
    public static ILinearKernel For(QuantizedWeight weight)
    {
        if (weight.Format == QuantFormat.Fp8E4M3PerChannel)
            return CudaFp8LinearKernel.Unsupported(weight.Format, weight.Device.type, weight.OutFeatures, weight.InFeatures,
                TurboNative.HasFp8Kernels) is null
                ? new CudaFp8LinearKernel(weight)
                : new QuantizedLinear(weight);
        var gemm = weight.Format == QuantFormat.Int8Block128 ? Int8Gemm.Mma : PerChannelGemm(weight.InFeatures);
        return CudaInt8LinearKernel.Unsupported(weight.Format, weight.Device.type, weight.OutFeatures, weight.InFeatures, gemm,
            TurboNative.HasInt8Kernels) is null
            ? new CudaInt8LinearKernel(weight, gemm)
            : new QuantizedLinear(weight);
    }
}
