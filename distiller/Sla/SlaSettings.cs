using Turbo.Runtime;

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
    public double EmaDecay { get; init; } = 0.999;
    public int CheckpointEvery { get; init; } = 500;
    public long Seed { get; init; }
    /// <summary>Stop early, checkpointed, once a run has taken this long; a later run resumes.</summary>
    public TimeSpan? TimeLimit { get; init; }

    public void Validate()
    {
        if (Steps < 1 || BatchSize < 1 || CheckpointEvery < 1)
            throw new TurboException("SLA settings: steps, batch size and checkpoint interval must be ≥ 1");
        if (!(LearningRate > 0) || WeightDecay < 0 || GradientClip is <= 0)
            throw new TurboException("SLA settings: the learning rate and a gradient clip must be positive, the weight decay ≥ 0");
        if (!(Shift > 0) || !double.IsFinite(Shift))
            throw new TurboException($"SLA settings: the shift must be a positive number, found {Shift}");
        if (EmaDecay is < 0 or >= 1)
            throw new TurboException("SLA settings: the EMA decay must be in [0, 1)");
    }
}
