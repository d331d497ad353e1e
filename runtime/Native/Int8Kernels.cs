using TorchSharp;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Runtime.Native;

/// <summary>Which INT8 matrix product runs on the GPU.</summary>
public enum Int8Gemm
{
    /// <summary>The bundled mma.sync kernel, with the epilogue fused (per-channel and 128×128 block weight scales).</summary>
    Mma = 0,

    /// <summary>cuBLASLt's INT8 GEMM writing INT32, then the epilogue as a kernel of its own (per-channel scales only).</summary>
    CublasLt = 1,

    /// <summary>The bundled Hopper kernel (wgmma, tensor copy engine), with the epilogue fused (per-channel scales only).</summary>
    Wgmma = 2,
}

/// <summary>
/// The W8A8 kernels of the bundled CUDA library on TorchSharp tensors. References: <see cref="ActivationQuantizer"/>
/// (after <see cref="QuantizedLinear"/>'s smoothing division) and <see cref="ReferenceGemm"/>; the kernels repeat their
/// float32 steps in the same order, so the results are equal bit for bit. Every argument is checked here first — shapes
/// and dtypes, then the device — and a bad one is a <see cref="TurboException"/> naming the tensor: the library would
/// only return an error code. Inputs are made contiguous (and copied when a view does not start 16-byte aligned).
/// Outputs are poisoned when <see cref="FusedOps.PoisonOutputs"/> is set (NaN, or −128 / int.MinValue / the e4m3 NaN code, values the
/// kernels never produce), so that an element a kernel skips is caught.
/// </summary>
public static class Int8Kernels
{
    /// <summary>The mma kernel copies k-contiguous rows 16 bytes at a time: k must be a multiple of this.</summary>
    public const int MmaKMultiple = 16;

    /// <summary>cuBLASLt's INT8 kernels (regular layout, "TN") need n and k multiples of this.</summary>
    public const int CublasLtMultiple = 4;

    /// <summary>Why <paramref name="gemm"/> cannot compute an [n, k] weight's product, or null when it can.</summary>
    public static string? Unsupported(Int8Gemm gemm, long n, long k) => gemm switch
    {
        _ when n < 1 || n > int.MaxValue || k < 1 || k > QuantFormats.MaxInFeatures =>
            $"needs 1..{int.MaxValue} output and 1..{QuantFormats.MaxInFeatures} input features, found {n} and {k}",
        Int8Gemm.Mma or Int8Gemm.Wgmma when k % MmaKMultiple != 0 =>
            $"the {(gemm == Int8Gemm.Mma ? "mma" : "wgmma")} kernel needs input features (k) a multiple of {MmaKMultiple}, found {k}",
        Int8Gemm.CublasLt when n % CublasLtMultiple != 0 || k % CublasLtMultiple != 0 =>
            $"cuBLASLt's INT8 GEMM needs output (n) and input (k) features multiples of {CublasLtMultiple}, found n = {n}, k = {k}",
        Int8Gemm.Mma or Int8Gemm.CublasLt or Int8Gemm.Wgmma => null,
        _ => $"unknown INT8 GEMM {gemm}",
    };

    /// <summary>
    /// Per-token INT8 quantization of x [rows, cols] (Float32, BFloat16 or Float16), divided first by
    /// <paramref name="smooth"/> (Float32 [cols]) when given: values Int8 [rows, cols] and scales Float32 [rows].
    /// </summary>
    public static (Tensor Values, Tensor Scale) QuantizeRows(Tensor x, Tensor? smooth) =>
        QuantizeRowsBy("int8 quantization", TurboNative.turbo_int8_quantize_rows, x, smooth);

    /// <summary>
    /// <see cref="QuantizeRows"/> of GELU(x) (tanh form) rounded to x's dtype instead of x: a feed-forward block's hidden
    /// activations [rows, cols], as its first Linear's epilogue wrote them, quantized for its second Linear. Reference:
    /// WanMlp.GeluTanh in x's dtype, then <see cref="QuantizedLinear.QuantizeInput"/>; the kernel's tanh may differ from
    /// the CPU's in the last bits, which can move a GELU value by one step of the dtype and a code by one.
    /// </summary>
    public static (Tensor Values, Tensor Scale) GeluQuantizeRows(Tensor x, Tensor? smooth) =>
        QuantizeRowsBy("int8 gelu quantization", TurboNative.turbo_int8_gelu_quantize_rows, x, smooth);

    /// <summary>A per-token quantizer entry of the C ABI: (x, x dtype, smooth, q, scale, rows, cols, stream) → status.</summary>
    delegate int RowQuantizerEntry(IntPtr x, int xDtype, IntPtr smooth, IntPtr q, IntPtr scale, long rows, int cols, IntPtr stream);

    static (Tensor Values, Tensor Scale) QuantizeRowsBy(string op, RowQuantizerEntry entry, Tensor x, Tensor? smooth)
    {
        var (rows, cols) = CheckQuantizerInput(op, x, smooth);
        RequireCuda(op, ("x", x), ("smooth", smooth));

        using var xc = Operand(x);
        using var sc = smooth is null ? null : Operand(smooth);
        var values = NewOutput([rows, cols], ScalarType.Int8, x.device);
        var scale = NewOutput([rows], ScalarType.Float32, x.device);
        Run(() => entry(TurboNative.Ptr(xc), TurboNative.DType(xc), TurboNative.PtrOrNull(sc), TurboNative.Ptr(values),
            TurboNative.Ptr(scale), rows, (int)cols, IntPtr.Zero), values, scale);
        return (values, scale);
    }

    /// <summary>The exact INT32 product x·wᵀ: x Int8 [rows, k], w Int8 [n, k] → Int32 [rows, n].</summary>
    public static Tensor MatmulInt32(Tensor x, Tensor w, Int8Gemm gemm)
    {
        const string op = "int8 matmul";
        var (rows, n, k) = CheckProduct(op, x, w, gemm);
        RequireCuda(op, ("x", x), ("w", w));
        using var xc = Operand(x);
        using var wc = Operand(w);
        if (gemm == Int8Gemm.Wgmma) RequireWgmma(op);
        var acc = NewOutput([rows, n], ScalarType.Int32, x.device);
        Run(() => TurboNative.turbo_int8_matmul_i32(TurboNative.Ptr(xc), TurboNative.Ptr(wc), TurboNative.Ptr(acc),
            rows, n, k, (int)gemm, IntPtr.Zero), acc);
        return acc;
    }

    /// <summary>
    /// The epilogue: fp32(acc)·xScale[m]·wScale[n] (+ bias[n]) in <paramref name="outDtype"/>. acc Int32 [rows, n];
    /// xScale Float32 [rows]; wScale, bias Float32 [n].
    /// </summary>
    public static Tensor Dequantize(Tensor acc, Tensor xScale, Tensor wScale, Tensor? bias, ScalarType outDtype)
    {
        const string op = "int8 dequantization";
        if (acc.dim() != 2 || acc.dtype != ScalarType.Int32 || acc.shape[0] < 1 || acc.shape[1] < 1 || acc.shape[1] > int.MaxValue)
            throw Bad(op, "acc", "a non-empty 2-D Int32 tensor [rows, n]", acc);
        long rows = acc.shape[0], n = acc.shape[1];
        CheckVector(op, "x_scale", xScale, rows);
        CheckVector(op, "w_scale", wScale, n);
        if (bias is not null) CheckVector(op, "bias", bias, n);
        CheckOutput(op, outDtype);
        RequireCuda(op, ("acc", acc), ("x_scale", xScale), ("w_scale", wScale), ("bias", bias));

        using var ac = Operand(acc);
        using var xs = Operand(xScale);
        using var ws = Operand(wScale);
        using var bc = bias is null ? null : Operand(bias);
        var y = NewOutput([rows, n], outDtype, acc.device);
        Run(() => TurboNative.turbo_int8_dequantize(TurboNative.Ptr(ac), TurboNative.Ptr(xs), TurboNative.Ptr(ws),
            TurboNative.PtrOrNull(bc), TurboNative.Ptr(y), TurboNative.DType(y), rows, (int)n, IntPtr.Zero), y);
        return y;
    }

    /// <summary>
    /// A W8A8 feed-forward block's middle in one pass: the first Linear's epilogue on acc Int32 [rows, n] (xScale
    /// Float32 [rows], wScale and bias Float32 [n]) rounded to <paramref name="hiddenDtype"/>, GELU (tanh form) in that
    /// dtype, and the second Linear's per-token quantization (divided first by <paramref name="smooth"/>, Float32 [n],
    /// when given): values Int8 [rows, n] and scales Float32 [rows]. Reference: <see cref="ReferenceGemm"/>, then GELU,
    /// then <see cref="QuantizedLinear.QuantizeInput"/>.
    /// </summary>
    public static (Tensor Values, Tensor Scale) GeluRequantize(Tensor acc, Tensor xScale, Tensor wScale, Tensor? bias,
        ScalarType hiddenDtype, Tensor? smooth)
    {
        const string op = "int8 gelu requantization";
        if (acc.dim() != 2 || acc.dtype != ScalarType.Int32 || acc.shape[0] < 1 || acc.shape[0] > int.MaxValue
            || acc.shape[1] < 1 || acc.shape[1] > QuantFormats.MaxInFeatures)
            throw Bad(op, "acc", $"a 2-D Int32 tensor [1..{int.MaxValue} rows, 1..{QuantFormats.MaxInFeatures}]", acc);
        long rows = acc.shape[0], n = acc.shape[1];
        CheckVector(op, "x_scale", xScale, rows);
        CheckVector(op, "w_scale", wScale, n);
        if (bias is not null) CheckVector(op, "bias", bias, n);
        if (smooth is not null) CheckVector(op, "smooth", smooth, n);
        if (!IsKernelFloat(hiddenDtype)) throw new TurboException($"{op}: the hidden dtype must be Float32, BFloat16 or Float16, found {hiddenDtype}");
        RequireCuda(op, ("acc", acc), ("x_scale", xScale), ("w_scale", wScale), ("bias", bias), ("smooth", smooth));

        using var ac = Operand(acc);
        using var xs = Operand(xScale);
        using var ws = Operand(wScale);
        using var bc = bias is null ? null : Operand(bias);
        using var sc = smooth is null ? null : Operand(smooth);
        var values = NewOutput([rows, n], ScalarType.Int8, acc.device);
        var scale = NewOutput([rows], ScalarType.Float32, acc.device);
        Run(() => TurboNative.turbo_int8_gelu_requantize(TurboNative.Ptr(ac), TurboNative.Ptr(xs), TurboNative.Ptr(ws),
            TurboNative.PtrOrNull(bc), TurboNative.DType(hiddenDtype), TurboNative.PtrOrNull(sc), TurboNative.Ptr(values),
            TurboNative.Ptr(scale), rows, (int)n, IntPtr.Zero), values, scale);
        return (values, scale);
    }

    /// <summary>Most layers one <see cref="LayerNormQuantize"/> call makes inputs for (a block's q, k and v).</summary>
    public const int MaxLayerNormQuantizers = 3;

    /// <summary>Widest row the norm kernels take.</summary>
    public const int MaxNormWidth = 8192;

    /// <summary>
    /// The inputs of up to three W8A8 layers that read one LayerNorm's output, made by the norm kernel itself:
    /// <see cref="FusedOps.LayerNormModulate"/>'s rows of x [B, L, D] (weight, bias Float32 [D] or null; shift, scale
    /// [B, D] or null), rounded to <paramref name="roundDtype"/>, then per-token quantized once per layer, divided first
    /// by that layer's <paramref name="smooths"/> entry (Float32 [D] or null): values Int8 [B·L, D] and scales Float32
    /// [B·L] per layer. Reference: LayerNormModulate, then <see cref="QuantizeRows"/> per layer.
    /// </summary>
    public static (Tensor Values, Tensor Scale)[] LayerNormQuantize(Tensor x, Tensor? weight, Tensor? bias, Tensor? shift,
        Tensor? scale, double eps, ScalarType roundDtype, IReadOnlyList<Tensor?> smooths) =>
        NormQuantize("int8 layernorm quantization", x, null, null, weight, bias, shift, scale, eps, roundDtype, smooths).Inputs;

    /// <summary>
    /// <see cref="LayerNormQuantize"/> of x' = <see cref="FusedOps.GateResidual"/>(x, y, gate) — x Float32 [B, L, D], y
    /// [B, L, D], gate Float32 [B, D] or null for x + y — in one pass, which also writes x' (Float32 [B, L, D]): a
    /// block's residual update and the norm after it. Reference: GateResidual, then LayerNormQuantize.
    /// </summary>
    public static (Tensor Residual, (Tensor Values, Tensor Scale)[] Inputs) ResidualLayerNormQuantize(Tensor x, Tensor y, Tensor? gate,
        Tensor? weight, Tensor? bias, Tensor? shift, Tensor? scale, double eps, ScalarType roundDtype, IReadOnlyList<Tensor?> smooths)
    {
        var (residual, inputs) = NormQuantize("int8 residual layernorm quantization", x, y, gate, weight, bias, shift, scale, eps,
            roundDtype, smooths);
        return (residual!, inputs);
    }

    static (Tensor? Residual, (Tensor Values, Tensor Scale)[] Inputs) NormQuantize(string op, Tensor x, Tensor? update, Tensor? gate,
        Tensor? weight, Tensor? bias, Tensor? shift, Tensor? scale, double eps, ScalarType roundDtype, IReadOnlyList<Tensor?> smooths)
    {
        if (x.dim() != 3 || !IsKernelFloat(x.dtype) || x.shape[0] < 1 || x.shape[1] < 1 || x.shape[2] < 1 || x.shape[2] > MaxNormWidth)
            throw Bad(op, "x", $"a 3-D Float32, BFloat16 or Float16 tensor [B, L, 1..{MaxNormWidth}]", x);
        long batch = x.shape[0], tokens = x.shape[1], dim = x.shape[2];
        if (update is not null)
        {
            if (x.dtype != ScalarType.Float32) throw Bad(op, "x", "the Float32 residual stream", x);
            if (!IsKernelFloat(update.dtype) || !update.shape.SequenceEqual(x.shape))
                throw Bad(op, "update", $"a Float32, BFloat16 or Float16 tensor [{batch}, {tokens}, {dim}]", update);
            if (gate is not null && (gate.dtype != ScalarType.Float32 || !gate.shape.SequenceEqual([batch, dim])))
                throw Bad(op, "gate", $"Float32 [{batch}, {dim}]", gate);
        }
        if ((weight is null) != (bias is null) || (shift is null) != (scale is null))
            throw new TurboException($"{op}: weight and bias, and shift and scale, come in pairs");
        if (weight is not null) CheckVector(op, "weight", weight, dim);
        if (bias is not null) CheckVector(op, "bias", bias, dim);
        foreach (var (name, t) in new[] { ("shift", shift), ("scale", scale) })
            if (t is not null && (t.dtype != ScalarType.Float32 || !t.shape.SequenceEqual([batch, dim])))
                throw Bad(op, name, $"Float32 [{batch}, {dim}]", t);
        if (smooths.Count is < 1 or > MaxLayerNormQuantizers)
            throw new TurboException($"{op}: 1..{MaxLayerNormQuantizers} layers, found {smooths.Count}");
        foreach (var smooth in smooths)
            if (smooth is not null) CheckVector(op, "smooth", smooth, dim);
        if (!IsKernelFloat(roundDtype)) throw new TurboException($"{op}: the model dtype must be Float32, BFloat16 or Float16, found {roundDtype}");
        RequireCuda(op, [("x", x), ("update", update), ("gate", gate), ("weight", weight), ("bias", bias), ("shift", shift), ("scale", scale),
            .. smooths.Select(s => ("smooth", s))]);

        using var scope = NewDisposeScope();
        var xc = Operand(x);
        var operands = new[] { update, gate, weight, bias, shift, scale }.Select(t => t is null ? null : Operand(t)).ToArray();
        var smoothOperands = smooths.Select(t => t is null ? null : Operand(t)).ToArray();
        long rows = batch * tokens;
        var residual = update is null ? null : NewOutput(x.shape, ScalarType.Float32, x.device);
        var outputs = smooths.Select(_ => (Values: NewOutput([rows, dim], ScalarType.Int8, x.device),
            Scale: NewOutput([rows], ScalarType.Float32, x.device))).ToArray();
        var (smoothPtrs, valuePtrs, scalePtrs) = (smoothOperands.Select(TurboNative.PtrOrNull).ToArray(),
            outputs.Select(o => TurboNative.Ptr(o.Values)).ToArray(), outputs.Select(o => TurboNative.Ptr(o.Scale)).ToArray());
        var (weightPtr, biasPtr, shiftPtr, scalePtr) = (TurboNative.PtrOrNull(operands[2]), TurboNative.PtrOrNull(operands[3]),
            TurboNative.PtrOrNull(operands[4]), TurboNative.PtrOrNull(operands[5]));
        Run(() => update is null
            ? TurboNative.turbo_int8_layernorm_quantize(TurboNative.Ptr(xc), TurboNative.DType(xc), weightPtr, biasPtr, shiftPtr,
                scalePtr, TurboNative.DType(roundDtype), smooths.Count, smoothPtrs, valuePtrs, scalePtrs, rows, tokens, (int)dim,
                (float)eps, IntPtr.Zero)
            : TurboNative.turbo_int8_residual_layernorm_quantize(TurboNative.Ptr(xc), TurboNative.Ptr(operands[0]!),
                TurboNative.DType(operands[0]!), TurboNative.PtrOrNull(operands[1]), TurboNative.Ptr(residual!), weightPtr, biasPtr,
                shiftPtr, scalePtr, TurboNative.DType(roundDtype), smooths.Count, smoothPtrs, valuePtrs, scalePtrs, rows, tokens,
                (int)dim, (float)eps, IntPtr.Zero));
        residual?.MoveToOuterDisposeScope();
        foreach (var (values, scales) in outputs)
        {
            values.MoveToOuterDisposeScope();
            scales.MoveToOuterDisposeScope();
        }
        return (residual, outputs);
    }

    /// <summary>
    /// The whole quantized product in one kernel, epilogue fused (<paramref name="gemm"/>: mma, or wgmma on Hopper for
    /// per-channel scales): x Int8 [rows, k] with scales Float32 [rows], w Int8 [n, k] with scales of
    /// <paramref name="format"/> (Float32 [n], or [⌈n/128⌉, ⌈k/128⌉] for 128×128 blocks), bias Float32 [n] or null →
    /// [rows, n] in <paramref name="outDtype"/>, as <see cref="ReferenceGemm.Compute"/>.
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor xScale, Tensor w, Tensor wScale, QuantFormat format, Tensor? bias, ScalarType outDtype,
        Int8Gemm gemm = Int8Gemm.Mma)
    {
        string op = gemm == Int8Gemm.Wgmma ? "int8 linear (wgmma)" : "int8 linear";
        if (!format.IsInt8()) throw new TurboException($"{op}: {format.Id()} has no CUDA kernel; expected an INT8 format");
        if (gemm is not (Int8Gemm.Mma or Int8Gemm.Wgmma)) throw new TurboException($"{op}: {gemm} has no fused epilogue; expected mma or wgmma");
        if (gemm == Int8Gemm.Wgmma && format != QuantFormat.Int8PerChannel)
            throw new TurboException($"{op}: the wgmma kernel takes per-channel weight scales, found {format.Id()}");
        var (rows, n, k) = CheckProduct(op, x, w, gemm);
        CheckVector(op, "x_scale", xScale, rows);
        var scaleShape = format.ScaleShape(n, k);
        if (wScale.dtype != ScalarType.Float32 || !wScale.shape.SequenceEqual(scaleShape))
            throw Bad(op, "w_scale", $"Float32 {QuantizedWeight.Shape(scaleShape)} for {format.Id()}", wScale);
        if (bias is not null) CheckVector(op, "bias", bias, n);
        CheckOutput(op, outDtype);
        RequireCuda(op, ("x", x), ("x_scale", xScale), ("w", w), ("w_scale", wScale), ("bias", bias));
        if (gemm == Int8Gemm.Wgmma) RequireWgmma(op);

        using var xc = Operand(x);
        using var xs = Operand(xScale);
        using var wc = Operand(w);
        using var ws = Operand(wScale);
        using var bc = bias is null ? null : Operand(bias);
        var y = NewOutput([rows, n], outDtype, x.device);
        int scaleKind = format == QuantFormat.Int8Block128 ? 1 : 0; // TURBO_INT8_SCALE_BLOCK128 : TURBO_INT8_SCALE_CHANNEL
        Run(() => gemm == Int8Gemm.Wgmma
            ? TurboNative.turbo_int8_linear_wgmma(TurboNative.Ptr(xc), TurboNative.Ptr(xs), TurboNative.Ptr(wc),
                TurboNative.Ptr(ws), TurboNative.PtrOrNull(bc), TurboNative.Ptr(y), TurboNative.DType(y), rows, n, k, IntPtr.Zero)
            : TurboNative.turbo_int8_linear(TurboNative.Ptr(xc), TurboNative.Ptr(xs), TurboNative.Ptr(wc),
                TurboNative.Ptr(ws), scaleKind, TurboNative.PtrOrNull(bc), TurboNative.Ptr(y), TurboNative.DType(y), rows, n, k,
                IntPtr.Zero), y);
        return y;
    }

    static void RequireWgmma(string op)
    {
        if (!TurboNative.HasWgmmaInt8)
            throw new TurboException($"{op}: the wgmma kernel needs a compute capability 9.0 GPU and {TurboNative.Describe()} built for sm_90a with CUDA 12.5 or newer");
    }

    internal static bool IsKernelFloat(ScalarType t) => t is ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16;

    /// <summary>A per-token quantizer's input: x [rows ≥ 1, 1..2¹⁷ cols] of a kernel float dtype, smooth Float32 [cols] or null.</summary>
    internal static (long Rows, long Cols) CheckQuantizerInput(string op, Tensor x, Tensor? smooth)
    {
        if (x.dim() != 2 || !IsKernelFloat(x.dtype))
            throw Bad(op, "x", "a 2-D Float32, BFloat16 or Float16 tensor [rows, cols]", x);
        long rows = x.shape[0], cols = x.shape[1];
        if (rows < 1 || cols < 1 || cols > QuantFormats.MaxInFeatures)
            throw Bad(op, "x", $"[rows ≥ 1, 1..{QuantFormats.MaxInFeatures} cols]", x);
        if (smooth is not null && (smooth.dtype != ScalarType.Float32 || !smooth.shape.SequenceEqual([cols])))
            throw Bad(op, "smooth", $"Float32 [{cols}]", smooth);
        return (rows, cols);
    }

    internal static TurboException Bad(string op, string tensor, string expected, Tensor found) =>
        new($"{op}: {tensor} must be {expected}, found {found.dtype} {QuantizedWeight.Shape(found.shape)}");

    static (long Rows, int N, int K) CheckProduct(string op, Tensor x, Tensor w, Int8Gemm gemm)
    {
        if (x.dim() != 2 || x.dtype != ScalarType.Int8 || x.shape[0] < 1 || x.shape[1] < 1)
            throw Bad(op, "x", "a non-empty 2-D Int8 tensor [rows, k]", x);
        long k = x.shape[1];
        if (w.dim() != 2 || w.dtype != ScalarType.Int8 || w.shape[1] != k || w.shape[0] < 1)
            throw Bad(op, "w", $"a 2-D Int8 tensor [n, {k}]", w);
        if (Unsupported(gemm, w.shape[0], k) is { } why) throw new TurboException($"{op}: {why}");
        return (x.shape[0], (int)w.shape[0], (int)k);
    }

    internal static void CheckVector(string op, string name, Tensor t, long length)
    {
        if (t.dtype != ScalarType.Float32 || !t.shape.SequenceEqual([length])) throw Bad(op, name, $"Float32 [{length}]", t);
    }

    static void CheckOutput(string op, ScalarType dtype)
    {
        if (!IsKernelFloat(dtype)) throw new TurboException($"{op}: the output dtype must be Float32, BFloat16 or Float16, found {dtype}");
    }

    /// <summary>Checked after shapes and dtypes: every tensor on one CUDA device, and the library there to run.</summary>
    internal static void RequireCuda(string op, params (string Name, Tensor? Tensor)[] tensors)
    {
        var present = tensors.Where(p => p.Tensor is not null).ToList();
        foreach (var (name, t) in present)
            if (t!.device_type != DeviceType.CUDA) throw new TurboException($"{op}: {name} must be on a CUDA device, found {t.device}");
        if (present.Select(p => p.Tensor!.device.index).Distinct().Count() > 1)
            throw new TurboException($"{op}: the tensors are on different devices ({string.Join(", ", present.Select(p => $"{p.Name} {p.Tensor!.device}"))})");
        if (!TurboNative.IsAvailable) throw new TurboException($"{op}: {TurboNative.Describe()}");
        if (!TurboNative.HasInt8Kernels) throw new TurboException($"{op}: {TurboNative.Describe()} predates the W8A8 kernels: rebuild runtime/native");
    }

    /// <summary>A contiguous tensor whose data starts 16-byte aligned (fresh allocations do; a view may not): the kernels copy 16 bytes at a time.</summary>
    internal static Tensor Operand(Tensor t)
    {
        var c = t.contiguous();
        if (TurboNative.Ptr(c) % 16 == 0) return c;
        using (c) return c.clone();
    }

    internal static Tensor NewOutput(long[] shape, ScalarType dtype, Device device)
    {
        if (!FusedOps.PoisonOutputs) return empty(shape, dtype, device);
        return dtype switch
        {
            ScalarType.Int8 => full(shape, -128, dtype, device),       // quantized values are clamped to ±127
            ScalarType.Int32 => full(shape, int.MinValue, dtype, device), // |acc| ≤ k·127² < 2³¹
            ScalarType.Byte => full(shape, Fp8E4M3.NaNCode, dtype, device), // e4m3 codes are saturated, never NaN
            _ => full(shape, float.NaN, dtype, device),
        };
    }

    /// <summary>Runs a native call that writes <paramref name="outputs"/>; on failure they are released and the library's message thrown.</summary>
    internal static void Run(Func<int> call, params Tensor[] outputs)
    {
        try
        {
            TurboNative.Check(call());
        }
        catch
        {
            foreach (var t in outputs) t.Dispose();
            throw;
        }
    }
}
