using static TorchSharp.torch;

namespace Turbo.Cli.Attention;

/// <summary>A kernel's output against its TorchSharp reference (the same quantization) and against exact attention.</summary>
public sealed record KernelAgreement(string Kernel, string Case, string DType, double MaxRelError, double RelativeL1,
    long NaNs, double MaxRelTolerance, double L1Tolerance, double CosineVsExact, double L1VsExact, bool Ok);

/// <summary>
/// One preparation pass against its reference: <see cref="Error"/> is what <see cref="Measure"/> names (the fraction of
/// elements that differ, or the largest difference relative to the reference's largest magnitude).
/// </summary>
public sealed record StageAgreement(string Stage, string Case, string Measure, double Error, double MaxAbsError, double Tolerance, bool Ok);

/// <summary>
/// How close a kernel must come to its reference. Both quantize the same blocks with the same float32 operations
/// (K's mean summed in float64 and rounded once, scales multiplied by the same reciprocals, scores dequantized in the
/// same order and exponentiated with exp2), so the codes, scales, V values and every P agree exactly, as the
/// preparation checks require. The outputs still differ where the sums are ordered differently: the row sum and the
/// P·V accumulation (float32, a few 1e-7), which then moves the final rounding to the output dtype by one step for a
/// few elements (one bf16 step is 0.4% of an element). Should the two exp2 implementations disagree in a last bit, an
/// E4M3-rounded P on a tie moves one step (6–12% of that P) and its output row by a fraction of that key's weight. So
/// the maximum error allows several bf16 steps (2%; 0.5% for float16/float32 outputs) and the relative L1 error, which
/// an indexing or masking bug moves by percents, 0.1%. Against exact float64 attention the kernels carry their
/// quantization error (docs/attention.md: cosine ≥ 0.9993 on such inputs); under 0.995 something else is wrong.
/// </summary>
public static class AgreementRules
{
    public const double L1Tolerance = 1e-3;
    public const double MinCosineVsExact = 0.995;

    public static double MaxRelTolerance(ScalarType dtype) => dtype == ScalarType.BFloat16 ? 2e-2 : 5e-3;

    public static KernelAgreement Compare(string kernel, string caseName, Tensor native, Tensor reference, Tensor exact)
    {
        using var scope = NewDisposeScope();
        var n = native.to(ScalarType.Float64);
        var r = reference.to(ScalarType.Float64);
        var e = exact.to(ScalarType.Float64);
        long nans = n.isnan().sum().item<long>();
        var delta = (n - r).abs();
        double maxRel = delta.max().item<double>() / Math.Max(r.abs().max().item<double>(), 1e-30);
        double l1 = delta.sum().item<double>() / Math.Max(r.abs().sum().item<double>(), 1e-30);
        double cosine = ((n * e).sum() / (n.norm() * e.norm())).item<double>();
        double l1Exact = ((n - e).abs().sum() / e.abs().sum()).item<double>();
        double maxRelTol = MaxRelTolerance(native.dtype);
        bool ok = nans == 0 && maxRel <= maxRelTol && l1 <= L1Tolerance && cosine >= MinCosineVsExact;
        return new KernelAgreement(kernel, caseName, native.dtype.ToString(), maxRel, l1, nans, maxRelTol, L1Tolerance, cosine, l1Exact, ok);
    }

    /// <summary>
    /// Elementwise agreement of a prepared buffer with its reference (zero-padded to the buffer's token count, so the
    /// padding rows must be zero too): ok when at most <paramref name="tolerance"/> of the elements differ and none by
    /// more than <paramref name="maxAbs"/>.
    /// </summary>
    public static StageAgreement CompareBuffer(string stage, string caseName, Tensor native, Tensor reference, double tolerance, double maxAbs)
    {
        using var scope = NewDisposeScope();
        var n = native.to(ScalarType.Float64);
        var r = nn.functional.pad(reference.to(ScalarType.Float64), [0, 0, 0, native.shape[2] - reference.shape[2]]);
        var delta = (n - r).abs().nan_to_num(double.PositiveInfinity);
        double mismatched = delta.gt(0).to(ScalarType.Float64).mean().item<double>();
        double largest = delta.max().item<double>();
        return new StageAgreement(stage, caseName, "mismatched", mismatched, largest, tolerance, mismatched <= tolerance && largest <= maxAbs);
    }

    /// <summary>
    /// Scales or statistics: ok when max |Δ| / max |reference| ≤ <paramref name="tolerance"/> (NaN fails); relative to
    /// max |<paramref name="scaleOf"/>| instead where the values are differences of larger ones (a smoothed pooled block).
    /// </summary>
    public static StageAgreement CompareRelative(string stage, string caseName, Tensor native, Tensor reference, double tolerance,
        Tensor? scaleOf = null)
    {
        using var scope = NewDisposeScope();
        var n = native.to(ScalarType.Float64);
        var r = reference.to(ScalarType.Float64).view(n.shape);
        double largest = (n - r).abs().nan_to_num(double.PositiveInfinity).max().item<double>();
        double relative = largest / Math.Max((scaleOf?.to(ScalarType.Float64) ?? r).abs().max().item<double>(), 1e-30);
        return new StageAgreement(stage, caseName, "max rel", relative, largest, tolerance, relative <= tolerance);
    }
}
