using Turbo.CalibrationData.Oracle;
using Turbo.Runtime;
using static TorchSharp.torch;

namespace Turbo.Tests.CalibrationData;

public sealed class FrechetDistanceTests : TensorScopePerTest
{
    static Tensor Matrix(double[,] values) => tensor(values);

    [Test]
    public void MatchesAHandComputedCaseWithCommutingCovariances()
    {
        // ‖(1,2)‖² + tr I + tr Σ₂ − 2 tr Σ₂^½, Σ₂ = [[2,1],[1,2]] has eigenvalues 3 and 1: 5 + 2 + 4 − 2(√3 + 1).
        double distance = FrechetDistance.FromStatistics(tensor(new double[] { 0, 0 }), Matrix(new double[,] { { 1, 0 }, { 0, 1 } }),
            tensor(new double[] { 1, 2 }), Matrix(new double[,] { { 2, 1 }, { 1, 2 } }));
        Assert.That(distance, Is.EqualTo(9 - 2 * Math.Sqrt(3)).Within(1e-12));
    }

    [Test]
    public void MatchesAHandComputedCaseWithNonCommutingCovariances()
    {
        // Σ₁ = diag(4, 1), Σ₂ = [[2,1],[1,2]]: Σ₁^½ Σ₂ Σ₁^½ = [[8,2],[2,2]], whose square root has trace √(tr + 2√det) = √(10 + 4√3).
        double distance = FrechetDistance.FromStatistics(tensor(new double[] { 3, 3 }), Matrix(new double[,] { { 4, 0 }, { 0, 1 } }),
            tensor(new double[] { 3, 3 }), Matrix(new double[,] { { 2, 1 }, { 1, 2 } }));
        Assert.That(distance, Is.EqualTo(5 + 4 - 2 * Math.Sqrt(10 + 4 * Math.Sqrt(3))).Within(1e-12));
    }

    [Test]
    public void FromFeatureSetsUsesMeansAndUnbiasedCovariances()
    {
        // 1-D: means 1 and 3, variances 2 and 8 (divided by N − 1): (1 − 3)² + (√2 − √8)² = 4 + 2.
        double distance = FrechetDistance.Between(tensor(new float[,] { { 0 }, { 2 } }), tensor(new float[,] { { 1 }, { 5 } }));
        Assert.That(distance, Is.EqualTo(6).Within(1e-9));
    }

    [Test]
    public void IsZeroForASetAgainstItselfEvenWithSingularCovariance()
    {
        random.manual_seed(3);
        var features = randn([5, 16]); // 5 samples in 16 dimensions: rank-4 covariance
        double distance = FrechetDistance.Between(features, features);
        // Square roots of the twelve zero eigenvalues' round-off (~1e-15) leave ~1e-7 per dimension.
        Assert.That(distance, Is.EqualTo(0).Within(1e-5));
    }

    [Test]
    public void GrowsWithAShiftOfTheMean()
    {
        random.manual_seed(4);
        var a = randn([400, 4]);
        var b = randn([400, 4]);
        double near = FrechetDistance.Between(a, b), far = FrechetDistance.Between(a, b + 1);
        Assert.That(far - near, Is.EqualTo(4).Within(0.5), "a shift of 1 in each of 4 dimensions adds about 4");
    }

    [Test]
    public void RejectsFeatureSetsOfDifferentWidthsOrTooFewSamples()
    {
        Assert.Throws<TurboException>(() => FrechetDistance.Between(zeros(4, 3), zeros(4, 5)));
        Assert.Throws<TurboException>(() => FrechetDistance.Between(zeros(1, 3), zeros(4, 3)));
        Assert.Throws<TurboException>(() => FrechetDistance.Between(zeros(4), zeros(4)));
    }
}
