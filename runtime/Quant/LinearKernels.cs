using Turbo.Runtime.Native;

namespace Turbo.Runtime.Quant;

/// <summary>Chooses how a quantized Linear layer is computed: on the GPU where the CUDA kernels (INT8 or FP8) can run it, else by the reference.</summary>
public static class LinearKernels
{
    /// <summary>
    /// The INT8 product for per-channel weights of <paramref name="inFeatures"/> inputs and <paramref name="outFeatures"/>
    /// outputs; 128×128 block weights always take <see cref="Int8Gemm.Mma"/>. By measurement (`turbo check-int8`, one
    /// H200, docs/PERF.md): the Hopper kernel where it runs, with its epilogue fused, beats cuBLASLt's INT32 GEMM plus
    /// the epilogue pass at k = 1,536 and 5,120 and at k = 13,824 with n = 5,120 (14B ffn.2 at M 75,600: 8.5–8.6 against
    /// 9.3–9.5 ms); at k = 8,960 with n = 1,536 cuBLASLt stays 3% faster. So wgmma
    /// for k ≤ <see cref="WgmmaMaxInFeatures"/> or n ≥ <see cref="WgmmaWideOutFeatures"/>, else cuBLASLt. cuBLASLt in
    /// turn runs at 2.0–2.7× the fused mma.sync kernel, which more than pays for its INT32 round trip.
    /// </summary>
    public static Int8Gemm PerChannelGemm(long inFeatures, long outFeatures) => PerChannelGemm(inFeatures, outFeatures, TurboNative.HasWgmmaInt8);

    /// <summary>The same choice on a GPU where the wgmma kernel can (<paramref name="wgmmaRuns"/>) or cannot run.</summary>
    public static Int8Gemm PerChannelGemm(long inFeatures, long outFeatures, bool wgmmaRuns) =>
        wgmmaRuns && (inFeatures <= WgmmaMaxInFeatures || outFeatures >= WgmmaWideOutFeatures) ? Int8Gemm.Wgmma : Int8Gemm.CublasLt;

    /// <summary>The largest k the default sends to the wgmma kernel whatever n (the kernel's ping-pong schedule).</summary>
    public const long WgmmaMaxInFeatures = 8192;

    /// <summary>The smallest n from which larger k go to the wgmma kernel too.</summary>
    public const long WgmmaWideOutFeatures = 4096;

    /// <summary>A kernel for <paramref name="weight"/> (which it takes ownership of): CUDA INT8 or FP8, or the reference.</summary>
    public static ILinearKernel For(QuantizedWeight weight)
    {
        if (weight.Format == QuantFormat.Fp8E4M3PerChannel)
            return CudaFp8LinearKernel.Unsupported(weight.Format, weight.Device.type, weight.OutFeatures, weight.InFeatures,
                TurboNative.HasFp8Kernels) is null
                ? new CudaFp8LinearKernel(weight)
                : new QuantizedLinear(weight);
        var gemm = weight.Format == QuantFormat.Int8Block128 ? Int8Gemm.Mma : PerChannelGemm(weight.InFeatures, weight.OutFeatures);
        return CudaInt8LinearKernel.Unsupported(weight.Format, weight.Device.type, weight.OutFeatures, weight.InFeatures, gemm,
            TurboNative.HasInt8Kernels) is null
            ? new CudaInt8LinearKernel(weight, gemm)
            : new QuantizedLinear(weight);
    }
}
