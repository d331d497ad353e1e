using static TorchSharp.torch;

namespace Turbo.Runtime.Quant;

/// <summary>How a quantized Linear stores its weight and quantizes its input.</summary>
public enum QuantFormat
{
    /// <summary>INT8 weight, one scale per output channel (absmax/127); INT8 activations, one scale per token.</summary>
    Int8PerChannel,

    /// <summary>INT8 weight, one scale per 128×128 block (absmax/127); INT8 activations, one scale per token.</summary>
    Int8Block128,

    /// <summary>FP8 e4m3 weight, one scale per output channel (absmax/448); FP8 e4m3 activations, one scale per token.</summary>
    Fp8E4M3PerChannel,
}

public static class QuantFormats
{
    /// <summary>Side of a weight block of <see cref="QuantFormat.Int8Block128"/>.</summary>
    public const int BlockSize = 128;

    /// <summary>
    /// Largest input width the reference GEMM accepts: K·127² stays below 2³¹ (an INT32 accumulator cannot
    /// overflow), and K·448²·2¹⁸ below 2⁵³ (a float64 sum of e4m3 products is exact).
    /// </summary>
    public const long MaxInFeatures = 1 << 17;

    public static readonly string[] Ids = ["int8-channel", "int8-block128", "fp8"];

    public static string Id(this QuantFormat format) => format switch
    {
        QuantFormat.Int8PerChannel => "int8-channel",
        QuantFormat.Int8Block128 => "int8-block128",
        QuantFormat.Fp8E4M3PerChannel => "fp8",
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    public static QuantFormat Parse(string id) => id switch
    {
        "int8-channel" => QuantFormat.Int8PerChannel,
        "int8-block128" => QuantFormat.Int8Block128,
        "fp8" => QuantFormat.Fp8E4M3PerChannel,
        _ => throw new TurboException($"quantization scheme '{id}': expected one of {string.Join(", ", Ids)}"),
    };

    /// <summary>The largest magnitude a quantized value takes: 127 for INT8 (symmetric, −128 unused), 448 for e4m3.</summary>
    public static double MaxCode(this QuantFormat format) => format == QuantFormat.Fp8E4M3PerChannel ? Fp8E4M3.MaxFinite : 127.0;

    public static bool IsInt8(this QuantFormat format) => format != QuantFormat.Fp8E4M3PerChannel;

    /// <summary>
    /// Symmetric scales from absolute maxima: absmax / <see cref="MaxCode"/> in float32, 1 where absmax is 0.
    /// The divisor is a tensor on purpose: libtorch divides a CUDA tensor by a host scalar as a multiplication by the
    /// scalar's reciprocal, which can differ from the true quotient in the last bit, so the CPU, libtorch on CUDA and
    /// the CUDA kernels (IEEE division) would not agree bit for bit.
    /// </summary>
    public static Tensor ScalesFromAbsMax(this QuantFormat format, Tensor absMax)
    {
        using var maxCode = full_like(absMax, format.MaxCode());
        using var quotient = absMax / maxCode;
        using var positive = absMax > 0;
        using var one = ones_like(absMax);
        return where(positive, quotient, one);
    }

    /// <summary>Shape of the weight scale tensor for an [N, K] weight.</summary>
    public static long[] ScaleShape(this QuantFormat format, long outFeatures, long inFeatures) => format == QuantFormat.Int8Block128
        ? [Blocks(outFeatures), Blocks(inFeatures)]
        : [outFeatures];

    public static long Blocks(long size) => (size + BlockSize - 1) / BlockSize;
}
