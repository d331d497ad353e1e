using Turbo.Runtime;
using static TorchSharp.torch;

namespace Turbo.Distiller.Sla;

/// <summary>
/// Settings of the SLA fine-tune. The defaults are TurboDiffusion's Wan2.1-1.3B recipe: AdamW (β = 0.9, 0.999),
/// lr 1e-5, weight decay 0.01, noise levels drawn the way a shift-5 sampler spaces them.
/// </summary>
public sealed record SlaSettings
{
    public int Steps { get; init; } = 1000;
    public int BatchSize { get; init; } = 1;
    public double LearningRate { get; init; } = 1e-5;
    public double WeightDecay { get; init; } = 0.01;
    /// <summary>Gradient-norm clip; null = none (TurboDiffusion clips nothing).</summary>
    public double? GradientClip { get; init; }
    /// <summary>Noise levels σ = k·u / (1 + (k − 1)·u), u uniform on (0, 1]: where a sampler with flow shift k evaluates the model.</summary>
    public double Shift { get; init; } = 5.0;
    /// <summary>
    /// When set, σ is drawn uniformly from these levels instead (and <see cref="Shift"/> is unused): a distilled
    /// student's sampling levels, the only ones it is ever called at, so its fine-tune spends no step elsewhere.
    /// </summary>
    public IReadOnlyList<double>? NoiseLevels { get; init; }
    public double EmaDecay { get; init; } = 0.999;
    public int CheckpointEvery { get; init; } = 500;
    public long Seed { get; init; }
    /// <summary>Stop early, checkpointed, once a run has taken this long; a later run resumes.</summary>
    public TimeSpan? TimeLimit { get; init; }

    /// <summary>σ for <paramref name="count"/> training samples (float64, on the CPU): see <see cref="Shift"/>, <see cref="NoiseLevels"/>.</summary>
    public Tensor DrawSigmas(long count, Generator generator)
    {
        if (NoiseLevels is { } levels)
            return tensor(levels.ToArray()).index_select(0, randint(levels.Count, [count], generator: generator));
        var uniform = 1 - rand(count, dtype: ScalarType.Float64, generator: generator);
        return Shift * uniform / (1 + (Shift - 1) * uniform);
    }

    public void Validate()
    {
        if (Steps < 1 || BatchSize < 1 || CheckpointEvery < 1)
            throw new TurboException("SLA settings: steps, batch size and checkpoint interval must be ≥ 1");
        if (!(LearningRate > 0) || WeightDecay < 0 || GradientClip is <= 0)
            throw new TurboException("SLA settings: the learning rate and a gradient clip must be positive, the weight decay ≥ 0");
        if (!(Shift > 0) || !double.IsFinite(Shift))
            throw new TurboException($"SLA settings: the shift must be a positive number, found {Shift}");
        if (NoiseLevels is { } levels && (levels.Count == 0 || levels.Any(l => !(l > 0 && l <= 1))))
            throw new TurboException($"SLA settings: noise levels must be a non-empty list in (0, 1], found [{string.Join(", ", levels)}]");
        if (EmaDecay is < 0 or >= 1)
            throw new TurboException("SLA settings: the EMA decay must be in [0, 1)");
    }
}
