using System.Runtime.InteropServices;

namespace Turbo.Runtime.Native;

/// <summary>The W8A8 entries of the C ABI (runtime/native/include/turbo_native.h); called through <see cref="Int8Kernels"/>.</summary>
public static partial class TurboNative
{
    /// <summary>
    /// The ABI version of the newest W8A8 entry, turbo_int8_residual_layernorm_quantize (14). From 12 the library's quantizers
    /// round as ActivationQuantizer does (values times the float32 reciprocal of the row's scale; before, a division,
    /// whose codes differ by one now and then). The W8A8 entries themselves date from version 2.
    /// </summary>
    const int QuantizerAbiVersion = 14;

    /// <summary>
    /// True when the library is loaded and new enough for every W8A8 kernel, turbo_int8_gelu_requantize,
    /// turbo_int8_gelu_quantize_rows and the norm quantizers among them (an older build would fail on the
    /// first call, or round differently).
    /// </summary>
    public static bool HasInt8Kernels => IsAvailable && turbo_version() >= QuantizerAbiVersion;

    static readonly Lazy<bool> Fp8KernelsUsable = new(() => IsAvailable && turbo_version() >= QuantizerAbiVersion && turbo_fp8_linear_available() == 1);

    /// <summary>
    /// True when the FP8 linear kernels can run here: the library new enough, built with cuBLAS 12.9 or newer (per-channel
    /// FP8 scales), and the current GPU of compute capability 9.0 or newer (asked once, of the device current then).
    /// </summary>
    public static bool HasFp8Kernels => Fp8KernelsUsable.Value;

    /// <summary>The ABI version from which the library has the wgmma INT8 GEMM (TURBO_INT8_WGMMA, turbo_int8_linear_wgmma).</summary>
    const int WgmmaInt8AbiVersion = 10;

    static readonly Lazy<bool> WgmmaInt8Usable = new(() => IsAvailable && turbo_version() >= WgmmaInt8AbiVersion && turbo_int8_wgmma_available() == 1);

    /// <summary>
    /// True when the Hopper INT8 GEMM can run here: the library new enough and built for sm_90a with CUDA 12.5 or newer,
    /// and the current GPU of compute capability 9.0 (asked once, of the device current then).
    /// </summary>
    public static bool HasWgmmaInt8 => WgmmaInt8Usable.Value;

    [DllImport(Lib)]
    internal static extern int turbo_int8_quantize_rows(IntPtr x, int xDtype, IntPtr smooth, IntPtr q, IntPtr scale,
        long rows, int cols, IntPtr stream);

    [DllImport(Lib)]
    internal static extern int turbo_int8_gelu_quantize_rows(IntPtr x, int xDtype, IntPtr smooth, IntPtr q, IntPtr scale,
        long rows, int cols, IntPtr stream);

    [DllImport(Lib)]
    internal static extern int turbo_int8_matmul_i32(IntPtr x, IntPtr w, IntPtr acc, long rows, int n, int k, int impl,
        IntPtr stream);

    [DllImport(Lib)]
    internal static extern int turbo_int8_dequantize(IntPtr acc, IntPtr xScale, IntPtr wScale, IntPtr bias, IntPtr y,
        int yDtype, long rows, int n, IntPtr stream);

    [DllImport(Lib)]
    internal static extern int turbo_int8_linear(IntPtr x, IntPtr xScale, IntPtr w, IntPtr wScale, int wScaleKind,
        IntPtr bias, IntPtr y, int yDtype, long rows, int n, int k, IntPtr stream);

    [DllImport(Lib)]
    internal static extern int turbo_int8_linear_wgmma(IntPtr x, IntPtr xScale, IntPtr w, IntPtr wScale, IntPtr bias,
        IntPtr y, int yDtype, long rows, int n, int k, IntPtr stream);

    [DllImport(Lib)]
    static extern int turbo_int8_wgmma_available();

    [DllImport(Lib)]
    internal static extern int turbo_fp8_quantize_rows(IntPtr x, int xDtype, IntPtr smooth, IntPtr q, IntPtr scale,
        long rows, int cols, IntPtr stream);

    [DllImport(Lib)]
    internal static extern int turbo_fp8_linear(IntPtr x, IntPtr xScale, IntPtr w, IntPtr wScale, IntPtr bias, IntPtr y,
        int yDtype, long rows, int n, int k, IntPtr stream);

    [DllImport(Lib)]
    static extern int turbo_fp8_linear_available();

    [DllImport(Lib)]
    internal static extern int turbo_int8_layernorm_quantize(IntPtr x, int xDtype, IntPtr weight, IntPtr bias, IntPtr shift,
        IntPtr scale, int roundDtype, int count, IntPtr[] smooth, IntPtr[] q, IntPtr[] qScale, long rows, long tokens, int dim,
        float eps, IntPtr stream);

    [DllImport(Lib)]
    internal static extern int turbo_int8_residual_layernorm_quantize(IntPtr x, IntPtr update, int updateDtype, IntPtr gate,
        IntPtr xOut, IntPtr weight, IntPtr bias, IntPtr shift, IntPtr scale, int roundDtype, int count, IntPtr[] smooth,
        IntPtr[] q, IntPtr[] qScale, long rows, long tokens, int dim, float eps, IntPtr stream);

    [DllImport(Lib)]
    internal static extern int turbo_int8_gelu_requantize(IntPtr acc, IntPtr xScale, IntPtr wScale, IntPtr bias, int hiddenDtype,
        IntPtr smooth, IntPtr q, IntPtr scale, long rows, int n, IntPtr stream);
}
