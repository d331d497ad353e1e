using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Runtime.Native;

/// <summary>
/// The FP8 (e4m3) W8A8 kernels of the bundled CUDA library on TorchSharp tensors: per-token quantization to e4m3 codes
/// (bit-equal to <see cref="ActivationQuantizer"/> after <see cref="QuantizedLinear"/>'s smoothing division) and the
/// product through cuBLASLt's FP8 GEMM, which applies the per-token and per-channel scales and the bias itself
/// (float32 accumulation: within float32 rounding of <see cref="ReferenceGemm"/>, not bit-equal). Arguments are checked
/// as <see cref="Int8Kernels"/> checks them; codes are Byte tensors (TorchSharp has no float8 dtype).
/// </summary>
public static class Fp8Kernels
{
    /// <summary>cuBLASLt's FP8 kernels need n and k multiples of this.</summary>
    public const int Multiple = 16;

    /// <summary>Why an [n, k] FP8 weight's product cannot run through the kernel, or null when its shape can.</summary>
    public static string? Unsupported(long n, long k) =>
        n < 1 || n > int.MaxValue || k < 1 || k > QuantFormats.MaxInFeatures
            ? $"needs 1..{int.MaxValue} output and 1..{QuantFormats.MaxInFeatures} input features, found {n} and {k}"
            : n % Multiple != 0 || k % Multiple != 0
                ? $"cuBLASLt's FP8 GEMM needs output (n) and input (k) features multiples of {Multiple}, found n = {n}, k = {k}"
                : null;

    /// <summary>
    /// Per-token e4m3 quantization of x [rows, cols] (Float32, BFloat16 or Float16), divided first by
    /// <paramref name="smooth"/> (Float32 [cols]) when given: codes Byte [rows, cols] and scales Float32 [rows].
    /// </summary>
    public static (Tensor Codes, Tensor Scale) QuantizeRows(Tensor x, Tensor? smooth)
    {
        const string op = "fp8 quantization";
        var (rows, cols) = Int8Kernels.CheckQuantizerInput(op, x, smooth);
        RequireFp8(op, ("x", x), ("smooth", smooth));

        using var xc = Int8Kernels.Operand(x);
        using var sc = smooth is null ? null : Int8Kernels.Operand(smooth);
        var codes = Int8Kernels.NewOutput([rows, cols], ScalarType.Byte, x.device);
        var scale = Int8Kernels.NewOutput([rows], ScalarType.Float32, x.device);
        Int8Kernels.Run(() => TurboNative.turbo_fp8_quantize_rows(TurboNative.Ptr(xc), TurboNative.DType(xc), TurboNative.PtrOrNull(sc),
            TurboNative.Ptr(codes), TurboNative.Ptr(scale), rows, (int)cols, IntPtr.Zero), codes, scale);
        return (codes, scale);
    }

    /// <summary>
    /// x·wᵀ·xScale[m]·wScale[n] (+ bias[n]): x Byte e4m3 codes [rows, k] with scales Float32 [rows], w codes [n, k] with
    /// scales Float32 [n], bias [n] in <paramref name="outDtype"/> (BFloat16 or Float16) or null → [rows, n].
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor xScale, Tensor w, Tensor wScale, Tensor? bias, ScalarType outDtype)
    {
        const string op = "fp8 linear";
        if (x.dim() != 2 || x.dtype != ScalarType.Byte || x.shape[0] < 1 || x.shape[1] < 1)
            throw Int8Kernels.Bad(op, "x", "a non-empty 2-D Byte tensor of e4m3 codes [rows, k]", x);
        long rows = x.shape[0], k = x.shape[1];
        if (w.dim() != 2 || w.dtype != ScalarType.Byte || w.shape[1] != k || w.shape[0] < 1)
            throw Int8Kernels.Bad(op, "w", $"a 2-D Byte tensor of e4m3 codes [n, {k}]", w);
        long n = w.shape[0];
        if (Unsupported(n, k) is { } why) throw new TurboException($"{op}: {why}");
        Int8Kernels.CheckVector(op, "x_scale", xScale, rows);
        Int8Kernels.CheckVector(op, "w_scale", wScale, n);
        if (outDtype is not (ScalarType.BFloat16 or ScalarType.Float16))
            throw new TurboException($"{op}: the output dtype must be BFloat16 or Float16, found {outDtype}");
        if (bias is not null && (bias.dtype != outDtype || !bias.shape.SequenceEqual([n])))
            throw Int8Kernels.Bad(op, "bias", $"{outDtype} [{n}] (the output's dtype)", bias);
        RequireFp8(op, ("x", x), ("x_scale", xScale), ("w", w), ("w_scale", wScale), ("bias", bias));

        using var xc = Int8Kernels.Operand(x);
        using var xs = Int8Kernels.Operand(xScale);
        using var wc = Int8Kernels.Operand(w);
        using var ws = Int8Kernels.Operand(wScale);
        using var bc = bias is null ? null : Int8Kernels.Operand(bias);
        var y = Int8Kernels.NewOutput([rows, n], outDtype, x.device);
        Int8Kernels.Run(() => TurboNative.turbo_fp8_linear(TurboNative.Ptr(xc), TurboNative.Ptr(xs), TurboNative.Ptr(wc),
            TurboNative.Ptr(ws), TurboNative.PtrOrNull(bc), TurboNative.Ptr(y), TurboNative.DType(y), rows, (int)n, (int)k,
            IntPtr.Zero), y);
        return y;
    }

    static void RequireFp8(string op, params (string Name, Tensor? Tensor)[] tensors)
    {
        Int8Kernels.RequireCuda(op, tensors);
        if (!TurboNative.HasFp8Kernels)
            throw new TurboException($"{op}: {TurboNative.Describe()} has no FP8 linear kernel for this GPU " +
                "(it needs a library built with cuBLAS 12.9 or newer and a GPU of compute capability 9.0 or newer)");
    }
}
