using Turbo.Runtime;
using static TorchSharp.torch;

namespace Turbo.CalibrationData.Oracle;

/// <summary>
/// The Fréchet distance between two Gaussians fitted to feature sets (as FID/FVD do):
/// ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½.
/// The cross term is computed with symmetric square roots only (eigendecompositions of symmetric positive
/// semi-definite matrices in float64, negative round-off eigenvalues clamped to zero), so it is real and stable
/// even when a covariance is singular, as it is with fewer samples than feature dimensions.
/// </summary>
public static class FrechetDistance
{
    /// <summary>Between feature sets [N, D] and [M, D] (N, M ≥ 2; unbiased covariances).</summary>
    public static double Between(Tensor a, Tensor b)
    {
        Check(a, "first feature set");
        Check(b, "second feature set");
        if (a.shape[1] != b.shape[1]) throw new TurboException($"feature sets differ in width: {a.shape[1]} and {b.shape[1]}");
        using var scope = NewDisposeScope();
        var (muA, sigmaA) = Statistics(a);
        var (muB, sigmaB) = Statistics(b);
        return FromStatistics(muA, sigmaA, muB, sigmaB);
    }

    /// <summary>From means [D] and covariances [D, D].</summary>
    public static double FromStatistics(Tensor muA, Tensor sigmaA, Tensor muB, Tensor sigmaB)
    {
        long d = muA.shape[^1];
        foreach (var (tensor, shape, what) in new[] { (muA, new[] { d }, "first mean"), (muB, [d], "second mean"), (sigmaA, [d, d], "first covariance"), (sigmaB, [d, d], "second covariance") })
            if (!tensor.shape.SequenceEqual(shape) || !tensor.is_floating_point())
                throw new TurboException($"{what}: expected floating-point [{string.Join(", ", shape)}], found {tensor.dtype} [{string.Join(", ", tensor.shape)}]");
        using var scope = NewDisposeScope();
        var meanTerm = (muA.to(float64) - muB.to(float64)).square().sum();
        var rootA = SymmetricSqrt(sigmaA.to(float64));
        var cross = SymmetricSqrt(rootA.matmul(sigmaB.to(float64)).matmul(rootA));
        var distance = meanTerm + sigmaA.to(float64).trace() + sigmaB.to(float64).trace() - 2 * cross.trace();
        return distance.item<double>();
    }

    /// <summary>Mean [D] and unbiased covariance [D, D] in float64.</summary>
    public static (Tensor Mean, Tensor Covariance) Statistics(Tensor features)
    {
        var x = features.to(float64);
        var mean = x.mean([0]);
        var centred = x - mean;
        return (mean, centred.T.matmul(centred) / (x.shape[0] - 1));
    }

    /// <summary>The symmetric positive semi-definite square root V diag(√max(λ, 0)) Vᵀ of a symmetric matrix.</summary>
    static Tensor SymmetricSqrt(Tensor matrix)
    {
        var symmetric = (matrix + matrix.T) / 2; // removes round-off asymmetry before eigh, which reads one triangle
        var (values, vectors) = linalg.eigh(symmetric);
        return (vectors * values.clamp_min(0).sqrt()).matmul(vectors.T);
    }

    static void Check(Tensor features, string what)
    {
        if (features.dim() != 2 || features.shape[0] < 2 || features.shape[1] < 1)
            throw new TurboException($"{what}: expected features [N ≥ 2, D], found [{string.Join(", ", features.shape)}]");
        if (!features.is_floating_point()) throw new TurboException($"{what}: expected floating-point features, found {features.dtype}");
    }
}
