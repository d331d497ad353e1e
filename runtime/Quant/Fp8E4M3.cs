using static TorchSharp.torch;

namespace Turbo.Runtime.Quant;

/// <summary>
/// The FP8 e4m3 format (OCP "E4M3FN": 1 sign, 4 exponent bits with bias 7, 3 mantissa bits, no infinities, NaN =
/// S.1111.111), emulated with float tensor ops because TorchSharp has no float8 type. Codes are stored as bytes.
/// Rounding is to nearest, ties to even, with saturation at ±448 (like CUDA's satfinite conversion; a plain cast
/// in PyTorch would give NaN above 464). Subnormals (exponent field 0) are multiples of 2⁻⁹ below 2⁻⁶.
/// </summary>
public static class Fp8E4M3
{
    public const double MaxFinite = 448.0;
    public const double MinNormal = 1.0 / 64;      // 2^-6
    public const double MinSubnormal = 1.0 / 512;  // 2^-9
    public const byte NaNCode = 0x7F;
    const int MantissaBits = 3, ExponentBias = 7, MinExponent = -6, MaxExponent = 8; // binades 2^-6 … 2^8 (448 = 1.75·2^8)

    /// <summary>
    /// Each element rounded to the nearest e4m3 value (float32; float64 for float64 input, so nothing is rounded twice).
    /// </summary>
    public static Tensor Round(Tensor x)
    {
        if (!x.is_floating_point()) throw new TurboException($"e4m3 rounding: expected a floating-point tensor, found {x.dtype}");
        using var scope = NewDisposeScope();
        var dtype = x.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var v = x.to(dtype);
        var magnitude = v.abs().clamp_max(MaxFinite); // saturate; 448 itself is representable
        // magnitude = m·2^e with m in [0.5, 1), so its binade is 2^(e−1); below 2^-6 the spacing stays that of 2^-6.
        var (_, e) = frexp(magnitude);
        var quantum = (e - 1).clamp(MinExponent, MaxExponent).sub_(MinExponent).flatten();
        // The spacing 2^(binade − 3) and its inverse, looked up (exact powers of two: scaling by them is exact, so the
        // only rounding is torch.round's, half to even). ldexp would compute the same with a pow per element.
        var (spacing, inverse) = SpacingTables(dtype, x.device);
        var rounded = magnitude.mul(inverse.index_select(0, quantum).view_as(magnitude)).round_()
            .mul_(spacing.index_select(0, quantum).view_as(magnitude));
        return rounded.copysign(v).MoveToOuterDisposeScope();
    }

    /// <summary>2^(b − 3) for the binades b = −6 … 8, and their inverses.</summary>
    static readonly double[] Spacings = Enumerable.Range(MinExponent, MaxExponent - MinExponent + 1)
        .Select(b => Math.ScaleB(1.0, b - MantissaBits)).ToArray();
    static readonly double[] InverseSpacings = Spacings.Select(s => 1 / s).ToArray();

    /// <summary><see cref="Spacings"/> and <see cref="InverseSpacings"/> as tensors of <paramref name="dtype"/>.</summary>
    static (Tensor Spacing, Tensor Inverse) SpacingTables(ScalarType dtype, Device device) =>
        (tensor(Spacings, dtype: dtype, device: device), tensor(InverseSpacings, dtype: dtype, device: device));

    /// <summary>The e4m3 codes (bytes) of each element after <see cref="Round"/>; NaN becomes 0x7F with its sign bit.</summary>
    public static Tensor Encode(Tensor x)
    {
        using var scope = NewDisposeScope();
        var rounded = Round(x);
        var magnitude = rounded.abs();
        var (m, e) = frexp(magnitude);
        var normal = magnitude >= MinNormal;
        // normal: exponent field = (e − 1) + 7, mantissa = (2m − 1)·8; subnormal: field 0, mantissa = value / 2^-9
        var field = where(normal, (e + (ExponentBias - 1)).to(rounded.dtype), zeros_like(rounded));
        var mantissa = where(normal, m * 16 - 8, magnitude / MinSubnormal);
        var code = where(rounded.isnan(), full_like(rounded, NaNCode), field * 8 + mantissa);
        code = where(rounded.signbit(), code + 128, code);
        return code.to(ScalarType.Byte).MoveToOuterDisposeScope();
    }

    /// <summary>The float32 value of each e4m3 code.</summary>
    public static Tensor Decode(Tensor codes)
    {
        if (codes.dtype != ScalarType.Byte) throw new TurboException($"e4m3 decoding: expected byte codes, found {codes.dtype}");
        using var scope = NewDisposeScope();
        var table = tensor(Table, dtype: ScalarType.Float32, device: codes.device);
        return table.index_select(0, codes.flatten().to(ScalarType.Int64)).reshape(codes.shape).MoveToOuterDisposeScope();
    }

    /// <summary>The value of every code 0..255.</summary>
    public static readonly float[] Table = Enumerable.Range(0, 256).Select(c => (float)Value((byte)c)).ToArray();

    /// <summary>The value of one code, straight from the bit layout.</summary>
    public static double Value(byte code)
    {
        int sign = code >> 7, field = (code >> MantissaBits) & 0xF, mantissa = code & 0x7;
        double magnitude = field == 0xF && mantissa == 0x7 ? double.NaN
            : field == 0 ? mantissa * MinSubnormal
            : (1 + mantissa / 8.0) * Math.Pow(2, field - ExponentBias);
        return sign == 1 ? -magnitude : magnitude;
    }
}
