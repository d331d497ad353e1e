using Turbo.CalibrationData.Shapes;

namespace Turbo.CalibrationData.Oracle;

/// <summary>What the oracle reads from one clip: the most likely class of every factor (speed is read even for motions without one).</summary>
public sealed record OracleReading(IReadOnlyList<int> Classes)
{
    public int this[Factor factor] => Classes[(int)factor];

    public ShapeFactors Factors => new((ShapeKind)this[Factor.Shape], (ShapeColour)this[Factor.Colour], (ShapeSize)this[Factor.Size],
        (Backdrop)this[Factor.Background], (Motion)this[Factor.Motion],
        FactorRules.HasSpeed((Motion)this[Factor.Motion]) ? (Speed)this[Factor.Speed] : null);
}

/// <summary>
/// Prompt adherence: of all factors the captions state, the share the oracle reads back as stated (pooled over
/// clips, so a caption stating five factors weighs five), and the same per factor.
/// </summary>
public sealed record AdherenceReport(int Correct, int Stated, IReadOnlyDictionary<Factor, (int Correct, int Stated)> PerFactor)
{
    public double Adherence => Stated == 0 ? double.NaN : Correct / (double)Stated;

    public double Accuracy(Factor factor) => PerFactor[factor] is var (correct, stated) && stated > 0 ? correct / (double)stated : double.NaN;

    public static AdherenceReport Score(IReadOnlyList<OracleReading> readings, IReadOnlyList<StatedFactors> stated)
    {
        if (readings.Count != stated.Count) throw new ArgumentException($"{readings.Count} readings for {stated.Count} captions");
        var perFactor = FactorRules.All.ToDictionary(f => f, _ => (Correct: 0, Stated: 0));
        for (int i = 0; i < readings.Count; i++)
            foreach (var factor in FactorRules.All)
                if (stated[i].ClassOf(factor) is { } expected)
                {
                    var (correct, count) = perFactor[factor];
                    perFactor[factor] = (correct + (readings[i][factor] == expected ? 1 : 0), count + 1);
                }
        return new AdherenceReport(perFactor.Values.Sum(v => v.Correct), perFactor.Values.Sum(v => v.Stated),
            perFactor.ToDictionary(kv => kv.Key, kv => (kv.Value.Correct, kv.Value.Stated)));
    }
}
