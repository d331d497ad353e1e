using static TorchSharp.torch;

namespace Turbo.Runtime.Attention;

/// <summary>
/// FP8 E4M3 ("e4m3fn": 4 exponent bits with bias 7, 3 mantissa bits, no infinities, largest finite 448) emulated with
/// float32 operations, since TorchSharp has no float8 dtype. Rounding is what the GPU's satfinite conversion does:
/// to nearest, ties to even, magnitudes beyond 448 saturate to ±448.
/// </summary>
public static class Fp8E4M3
{
    public const double Max = 448.0;

    /// <summary>Smallest normal exponent: below 2⁻⁶ the values are subnormal, spaced 2⁻⁹ apart.</summary>
    const int MinExponent = -6;
    const int MantissaBits = 3;

    /// <summary>Each element rounded to the nearest E4M3 value, returned as float32.</summary>
    public static Tensor Round(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to(ScalarType.Float32);
        // frexp: |x| = m·2^e with m in [0.5, 1), so the binade of x starts at 2^(e−1); its E4M3 spacing is
        // 2^(e−1−3), never finer than the subnormal spacing 2^(−6−3). Division and multiplication by powers of two
        // are exact, and torch.round rounds ties to even.
        var (_, exponent) = frexp(x32);
        var binade = (exponent.to(ScalarType.Int32) - 1).clamp_min(MinExponent);
        var spacing = ldexp(ones_like(x32), binade - MantissaBits);
        var rounded = (x32 / spacing).round() * spacing;
        return rounded.clamp(-Max, Max).MoveToOuterDisposeScope();
    }
}
