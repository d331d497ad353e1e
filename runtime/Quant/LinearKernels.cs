using Turbo.Runtime.Native;

namespace Turbo.Runtime.Quant;

/// <summary>Chooses how a quantized Linear layer is computed: on the GPU where the CUDA kernels (INT8 or FP8) can run it, else by the reference.</summary>
public static class LinearKernels
{
    /// <summary>
    /// The INT8 product for per-channel weights; 128×128 block weights always take <see cref="Int8Gemm.Mma"/>. Unless set,
    /// the Hopper kernel where it runs, else cuBLASLt — by measurement (`turbo check-int8`, one H200, docs/PERF.md):
    /// cuBLASLt's INT8 GEMM runs at 940–1,540 TOP/s at Wan's shapes, 2.0–2.7× the fused mma.sync kernel, which more than
    /// pays for the INT32 round trip through its separate epilogue; the wgmma kernel fuses that epilogue at Hopper's rate.
    /// </summary>
    public static Int8Gemm PerChannelGemm
    {
        get => chosen ?? (TurboNative.HasWgmmaInt8 ? Int8Gemm.Wgmma : Int8Gemm.CublasLt);
        set => chosen = value;
    }

    static Int8Gemm? chosen;

    /// <summary>A kernel for <paramref name="weight"/> (which it takes ownership of): CUDA INT8 or FP8, or the reference.</summary>
    public static ILinearKernel For(QuantizedWeight weight)
    {
        if (weight.Format == QuantFormat.Fp8E4M3PerChannel)
            return CudaFp8LinearKernel.Unsupported(weight.Format, weight.Device.type, weight.OutFeatures, weight.InFeatures,
                TurboNative.HasFp8Kernels) is null
                ? new CudaFp8LinearKernel(weight)
                : new QuantizedLinear(weight);
        var gemm = weight.Format == QuantFormat.Int8Block128 ? Int8Gemm.Mma : PerChannelGemm;
        return CudaInt8LinearKernel.Unsupported(weight.Format, weight.Device.type, weight.OutFeatures, weight.InFeatures, gemm,
            TurboNative.HasInt8Kernels) is null
            ? new CudaInt8LinearKernel(weight, gemm)
            : new QuantizedLinear(weight);
    }
}
