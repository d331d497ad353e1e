using TorchSharp;
using static TorchSharp.torch;

namespace Turbo.Runtime.Native;

/// <summary>
/// The bandwidth-bound pieces of a Wan block, each with a TorchSharp reference (runs anywhere; the definition of
/// correct) and a fused CUDA kernel of the bundled library (used for CUDA tensors when the library is present).
/// Shapes: rows of D channels, grouped in batches of <c>tokens</c> rows; per-batch vectors are [B, D] fp32.
/// The kernels have no backward, so while autograd records (training) the reference path runs. The references compute
/// in float32, or in float64 for float64 input (a float64 model, for gradient checks).
/// </summary>
public static class FusedOps
{
    /// <summary>When false, the reference path runs even where the native library could (for A/B measurements).</summary>
    public static bool NativeEnabled { get; set; } = true;

    /// <summary>Native outputs start as NaN instead of uninitialised memory, so a kernel that skips an element is caught.</summary>
    public static bool PoisonOutputs { get; set; }

    static Tensor NewOutput(long[] shape, ScalarType dtype, Device device) =>
        PoisonOutputs ? full(shape, float.NaN, dtype, device) : empty(shape, dtype, device);

    /// <summary>The dtype a reference computes in: float64 for float64 input, float32 otherwise.</summary>
    static ScalarType Widened(ScalarType input) => input == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    static bool UseNative(Tensor t) =>
        NativeEnabled && t.device_type == DeviceType.CUDA && t.dtype != ScalarType.Float64 && !is_grad_enabled() && TurboNative.IsAvailable;

    /// <summary>(LayerNorm(x)[·weight + bias])·(1 + scale) + shift, in <paramref name="outDtype"/>. x: [B, L, D].</summary>
    public static Tensor LayerNormModulate(Tensor x, Tensor? weight, Tensor? bias, Tensor? shift, Tensor? scale,
        double eps, ScalarType outDtype) =>
        UseNative(x) ? LayerNormModulateNative(x, weight, bias, shift, scale, eps, outDtype)
                     : LayerNormModulateReference(x, weight, bias, shift, scale, eps, outDtype);

    public static Tensor LayerNormModulateReference(Tensor x, Tensor? weight, Tensor? bias, Tensor? shift, Tensor? scale,
        double eps, ScalarType outDtype)
    {
        using var scope = NewDisposeScope();
        var y = nn.functional.layer_norm(x.to(Widened(x.dtype)), [x.shape[^1]], weight, bias, eps);
        if (scale is not null && shift is not null) y = y * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1);
        return y.to(outDtype).MoveToOuterDisposeScope();
    }

    public static Tensor LayerNormModulateNative(Tensor x, Tensor? weight, Tensor? bias, Tensor? shift, Tensor? scale,
        double eps, ScalarType outDtype)
    {
        var (batch, tokens, dim) = (x.shape[0], x.shape[1], (int)x.shape[2]);
        using var xc = x.contiguous();
        using var shiftC = shift?.to(ScalarType.Float32).contiguous();
        using var scaleC = scale?.to(ScalarType.Float32).contiguous();
        var y = NewOutput(x.shape, outDtype, x.device);
        TurboNative.Check(TurboNative.turbo_layernorm_modulate(TurboNative.Ptr(xc), TurboNative.DType(xc),
            TurboNative.PtrOrNull(weight), TurboNative.PtrOrNull(bias), TurboNative.PtrOrNull(shiftC),
            TurboNative.PtrOrNull(scaleC), TurboNative.Ptr(y), TurboNative.DType(y), batch * tokens, tokens, dim,
            (float)eps, IntPtr.Zero));
        return y;
    }

    /// <summary>
    /// RoPE(RMSNorm(x)·weight): RMS over all D channels (across heads), then each head's interleaved channel pairs
    /// (2j, 2j+1) rotated by angle θ[token, j] given as cos/sin tables [L, headDim/2]; without tables (both null) the
    /// plain RMSNorm(x)·weight (cross-attention's q/k norm). x: [B, L, D]; output x's dtype.
    /// </summary>
    public static Tensor RmsNormRope(Tensor x, Tensor weight, Tensor? cos, Tensor? sin, int headDim, double eps) =>
        UseNative(x) && (cos is not null || TurboNative.HasPlainRmsNorm)
            ? RmsNormRopeNative(x, weight, cos, sin, headDim, eps)
            : RmsNormRopeReference(x, weight, cos, sin, headDim, eps);

    public static Tensor RmsNormRopeReference(Tensor x, Tensor weight, Tensor? cos, Tensor? sin, int headDim, double eps)
    {
        CheckTables(cos, sin);
        using var scope = NewDisposeScope();
        var (b, l, d) = (x.shape[0], x.shape[1], x.shape[2]);
        var xf = x.to(Widened(x.dtype));
        var n = xf * rsqrt(xf.pow(2).mean([-1], keepdim: true) + eps) * weight.to(xf.dtype);
        if (cos is null || sin is null) return n.to(x.dtype).MoveToOuterDisposeScope();
        var pairs = n.view(b, l, d / headDim, headDim / 2, 2);
        var (re, im) = (pairs.select(-1, 0), pairs.select(-1, 1));
        var c = cos.view(1, l, 1, headDim / 2);
        var s = sin.view(1, l, 1, headDim / 2);
        var rotated = stack([re * c - im * s, re * s + im * c], -1);
        return rotated.view(b, l, d).to(x.dtype).MoveToOuterDisposeScope();
    }

    public static Tensor RmsNormRopeNative(Tensor x, Tensor weight, Tensor? cos, Tensor? sin, int headDim, double eps)
    {
        CheckTables(cos, sin);
        var (batch, tokens, dim) = (x.shape[0], x.shape[1], (int)x.shape[2]);
        using var xc = x.contiguous();
        using var w = weight.to(ScalarType.Float32).contiguous();
        using var c = cos?.to(ScalarType.Float32).contiguous();
        using var s = sin?.to(ScalarType.Float32).contiguous();
        var y = NewOutput(xc.shape, xc.dtype, xc.device);
        TurboNative.Check(TurboNative.turbo_rmsnorm_rope(TurboNative.Ptr(xc), TurboNative.Ptr(w), TurboNative.PtrOrNull(c),
            TurboNative.PtrOrNull(s), TurboNative.Ptr(y), TurboNative.DType(xc), batch * tokens, tokens, dim, headDim,
            (float)eps, IntPtr.Zero));
        return y;
    }

    static void CheckTables(Tensor? cos, Tensor? sin)
    {
        if ((cos is null) != (sin is null)) throw new TurboException("RMSNorm + RoPE: give both the cos and the sin table, or neither");
    }

    /// <summary>
    /// x + y·gate (x: the fp32 residual stream [B, L, D]; y: [B, L, D]; gate: [B, D], or null for x + y), float32.
    /// </summary>
    public static Tensor GateResidual(Tensor x, Tensor y, Tensor? gate) =>
        UseNative(x) && (gate is not null || TurboNative.HasResidualNorms) ? GateResidualNative(x, y, gate) : GateResidualReference(x, y, gate);

    public static Tensor GateResidualReference(Tensor x, Tensor y, Tensor? gate)
    {
        var dtype = Widened(x.dtype);
        using var update = gate is null ? y.to(dtype) : y.to(dtype) * gate.unsqueeze(1);
        return x.to(dtype) + update;
    }

    public static Tensor GateResidualNative(Tensor x, Tensor y, Tensor? gate)
    {
        var (batch, tokens, dim) = (x.shape[0], x.shape[1], (int)x.shape[2]);
        using var xc = x.to(ScalarType.Float32).contiguous();
        using var yc = y.contiguous();
        using var g = gate?.to(ScalarType.Float32).contiguous();
        var output = NewOutput(x.shape, ScalarType.Float32, x.device);
        TurboNative.Check(TurboNative.turbo_gate_residual(TurboNative.Ptr(xc), TurboNative.Ptr(yc), TurboNative.DType(yc),
            TurboNative.PtrOrNull(g), TurboNative.Ptr(output), batch * tokens, tokens, dim, IntPtr.Zero));
        return output;
    }

    /// <summary>
    /// A block's residual update and the norm after it: x' = <see cref="GateResidual"/>(x, y, gate) (float32 [B, L, D])
    /// and <see cref="LayerNormModulate"/>(x', ...), in one pass on the GPU where that pays (<see cref="ResidualFusionPays"/>;
    /// x' is then not read back), else the two kernels.
    /// </summary>
    public static (Tensor Residual, Tensor Normed) ResidualLayerNormModulate(Tensor x, Tensor y, Tensor? gate, Tensor? weight,
        Tensor? bias, Tensor? shift, Tensor? scale, double eps, ScalarType outDtype)
    {
        if (UseNative(x) && x.dtype == ScalarType.Float32 && ResidualFusionPays(x.shape[^1]) && TurboNative.HasResidualNorms)
            return ResidualLayerNormModulateNative(x, y, gate, weight, bias, shift, scale, eps, outDtype);
        var residual = GateResidual(x, y, gate);
        return (residual, LayerNormModulate(residual, weight, bias, shift, scale, eps, outDtype));
    }

    /// <summary>
    /// Whether a residual update fused into the norm after it beats the update kernel followed by the norm's: rows of
    /// whole 16-byte vectors up to 8,192 elements, which the norm's vector kernels take, a warp or a block per row
    /// (Wan2.1-1.3B's 1,536: 0.22 → 0.20 ms at 32,760 tokens; 14B's 5,120: 0.70 → 0.59 ms, and 1.58 → 1.30 ms at
    /// 75,600; `turbo check-native`, docs/PERF.md).
    /// </summary>
    public static bool ResidualFusionPays(long dim) => dim % 8 == 0 && dim <= 8192;

    /// <summary>
    /// Whether the W8A8 quantization fused into the norm kernel (<see cref="Int8Kernels.LayerNormQuantize"/>) beats the
    /// norm followed by the layers' quantizer: the widths the norm gives one warp per row, multiples of 256 up to 2,048
    /// (Wan2.1-1.3B's 1,536). At 14B's 5,120 (a block per row) the update, norm and quantization in one kernel measured
    /// level with the three kernels (1.855 against 1.869 ms at 75,600 tokens) and so slower than the fused update and
    /// norm followed by the quantizer, which the model therefore takes there.
    /// </summary>
    public static bool QuantizeFusionPays(long dim) => dim % 256 == 0 && dim <= 2048;

    public static (Tensor Residual, Tensor Normed) ResidualLayerNormModulateReference(Tensor x, Tensor y, Tensor? gate,
        Tensor? weight, Tensor? bias, Tensor? shift, Tensor? scale, double eps, ScalarType outDtype)
    {
        var residual = GateResidualReference(x, y, gate);
        return (residual, LayerNormModulateReference(residual, weight, bias, shift, scale, eps, outDtype));
    }

    /// <summary>The fused kernel: x float32 [B, L, D] on the GPU, the library of ABI 14 or newer.</summary>
    public static (Tensor Residual, Tensor Normed) ResidualLayerNormModulateNative(Tensor x, Tensor y, Tensor? gate,
        Tensor? weight, Tensor? bias, Tensor? shift, Tensor? scale, double eps, ScalarType outDtype)
    {
        var (batch, tokens, dim) = (x.shape[0], x.shape[1], (int)x.shape[2]);
        using var xc = x.contiguous();
        using var yc = y.contiguous();
        using var g = gate?.to(ScalarType.Float32).contiguous();
        using var shiftC = shift?.to(ScalarType.Float32).contiguous();
        using var scaleC = scale?.to(ScalarType.Float32).contiguous();
        var residual = NewOutput(x.shape, ScalarType.Float32, x.device);
        var normed = NewOutput(x.shape, outDtype, x.device);
        TurboNative.Check(TurboNative.turbo_residual_layernorm_modulate(TurboNative.Ptr(xc), TurboNative.Ptr(yc),
            TurboNative.DType(yc), TurboNative.PtrOrNull(g), TurboNative.Ptr(residual), TurboNative.PtrOrNull(weight),
            TurboNative.PtrOrNull(bias), TurboNative.PtrOrNull(shiftC), TurboNative.PtrOrNull(scaleC), TurboNative.Ptr(normed),
            TurboNative.DType(normed), batch * tokens, tokens, dim, (float)eps, IntPtr.Zero));
        return (residual, normed);
    }
}
