using TorchSharp;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Distiller.Training;

/// <summary>Clean latents and their prompt embeddings for one training step.</summary>
public interface ITrainingBatches
{
    /// <summary>Batch number <paramref name="step"/> (deterministic in it, so a resumed run sees the same data).</summary>
    (Tensor Latents, Tensor Context) Batch(long step, int batchSize);
}

public sealed record FlowMatchingSettings
{
    public int Steps { get; init; } = 10_000;
    public int BatchSize { get; init; } = 16;
    /// <summary>Peak rate: the <see cref="LearningRateSchedule"/> warms up to it and decays from it over <see cref="Steps"/>.</summary>
    public double LearningRate { get; init; } = 3e-4;
    public double WeightDecay { get; init; } = 0.01;
    public double GradientClip { get; init; } = 1.0;
    /// <summary>Share of samples trained with the empty prompt instead of their caption, so that CFG works.</summary>
    public double CaptionDropout { get; init; } = 0.1;
    /// <summary>Noise levels σ = sigmoid(N(mean, std²)) (logit-normal), the rectified-flow default.</summary>
    public double LogitMean { get; init; }
    public double LogitStd { get; init; } = 1.0;
    public double EmaDecay { get; init; } = 0.999;
    public int CheckpointEvery { get; init; } = 500;
    public long Seed { get; init; }
    /// <summary>Stop early, checkpointed, once a run has taken this long (GPU time comes in blocks); a later run resumes.</summary>
    public TimeSpan? TimeLimit { get; init; }
}

/// <summary>Progress after a step: the step's loss and, for objectives with several terms, each term (<see cref="Measures"/>).</summary>
public sealed record TrainingProgress(long Step, long Steps, double Loss, double SecondsPerStep)
{
    public IReadOnlyDictionary<string, double> Measures { get; init; } = new Dictionary<string, double>();
}

/// <summary>
/// Trains a Wan DiT with the flow-matching objective of Wan2.1: x_σ = (1 − σ)·x0 + σ·ε, target velocity ε − x0,
/// timestep σ·1000, MSE. AdamW, gradient clipping, caption dropout (the empty-prompt embedding replaces the caption),
/// an EMA of the weights. Resumable through <see cref="TrainingState"/>: a new trainer on the same work folder
/// continues from its last checkpoint, and because every step's randomness derives from (seed, step) the resumed run
/// is the run that was interrupted.
/// </summary>
public sealed class FlowMatchingTrainer : IDisposable
{
    readonly WanModel _model;
    readonly Tensor _emptyContext;
    readonly FlowMatchingSettings _settings;
    readonly TrainingState _state;

    public long Step => _state.Step;

    /// <param name="emptyContext">the empty prompt's embedding [1, L, TextDim] (caption dropout uses it)</param>
    public FlowMatchingTrainer(WanModel model, Tensor emptyContext, FlowMatchingSettings settings, string workDir)
    {
        if (settings.Steps < 1 || settings.BatchSize < 1 || settings.CheckpointEvery < 1)
            throw new TurboException("training: steps, batch size and checkpoint interval must be ≥ 1");
        if (settings.CaptionDropout is < 0 or > 1 || settings.EmaDecay is < 0 or >= 1)
            throw new TurboException("training: caption dropout must be in [0, 1] and the EMA decay in [0, 1)");
        _model = model;
        _emptyContext = emptyContext;
        _settings = settings;
        var optimizer = optim.AdamW(model.parameters(), settings.LearningRate, weight_decay: settings.WeightDecay);
        _state = new TrainingState(model, optimizer, model.LoadWeights, settings.EmaDecay, workDir);
        _state.TryResume();
    }

    /// <summary>Runs until <see cref="FlowMatchingSettings.Steps"/>; returns the mean loss of the last 50 steps.</summary>
    public double Train(ITrainingBatches data, Action<TrainingProgress>? progress = null)
    {
        _model.train();
        return TrainingLoop.Run(_state, new LearningRateSchedule(_settings.Steps), _settings.CheckpointEvery, _settings.TimeLimit, _settings,
            () => new StepResult(TrainStep(data)), progress).Loss;
    }

    double TrainStep(ITrainingBatches data)
    {
        using var scope = NewDisposeScope();
        var device = _model.Device;
        var generator = new Generator((ulong)(_settings.Seed * 1_000_003 + Step));
        var (latents, context) = data.Batch(Step, _settings.BatchSize);
        var x0 = latents.to(device);
        context = context.to(device);
        long b = x0.shape[0];

        var dropped = rand(b, generator: generator).lt(_settings.CaptionDropout).to(device).view(b, 1, 1);
        context = where(dropped, _emptyContext.to(device).expand(b, -1, -1), context);
        var sigma = (randn(b, generator: generator) * _settings.LogitStd + _settings.LogitMean).sigmoid().to(device);
        var noise = randn(x0.shape, generator: generator).to(device);
        var s = sigma.view(b, 1, 1, 1, 1);
        var noisy = (1 - s) * x0 + s * noise;
        var prediction = _model.Forward(noisy, sigma * 1000, context);
        var loss = nn.functional.mse_loss(prediction, noise - x0);

        _state.Optimizer.zero_grad();
        loss.backward();
        nn.utils.clip_grad_norm_(_model.parameters(), _settings.GradientClip);
        _state.Optimizer.step();
        _state.UpdateEma();
        return loss.item<float>();
    }

    /// <summary>The EMA weights (what a trained model ships), CPU float32 copies.</summary>
    public Dictionary<string, Tensor> EmaWeights() => _state.EmaWeights();

    public void Dispose() => _state.Dispose();
}
