using TorchSharp;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Distiller.Training;

/// <summary>Training clips for a video autoencoder.</summary>
public interface IClipBatches
{
    /// <summary>Clips [B, 3, 1 + 4n, H, W] in [−1, 1] for step <paramref name="step"/> (deterministic in it).</summary>
    Tensor Batch(long step, int batchSize);
}

public sealed record VaeTrainingSettings
{
    public int Steps { get; init; } = 5_000;
    public int BatchSize { get; init; } = 8;
    /// <summary>Peak rate: the <see cref="LearningRateSchedule"/> warms up to it and decays from it over <see cref="Steps"/>.</summary>
    public double LearningRate { get; init; } = 3e-4;
    public double WeightDecay { get; init; }
    public double GradientClip { get; init; } = 1.0;
    /// <summary>Weight of the KL term against the per-pixel L1 reconstruction loss (small: the latent stays informative).</summary>
    public double KlWeight { get; init; } = 1e-6;
    public double EmaDecay { get; init; } = 0.999;
    public int CheckpointEvery { get; init; } = 500;
    public long Seed { get; init; }
    /// <summary>Stop early, checkpointed, once a run has taken this long (GPU time comes in blocks); a later run resumes.</summary>
    public TimeSpan? TimeLimit { get; init; }
    /// <summary>
    /// Train only the decoder side (post_quant_conv and decoder) of a trained VAE: the encoder, and so the latent space
    /// a DiT was trained on, stays exactly as it was, while reconstructions get sharper.
    /// </summary>
    public bool DecoderOnly { get; init; }
}

/// <summary>
/// Trains a Wan-architecture VAE as upstream's objective does in its simplest form: a sample of the posterior is
/// decoded and compared with the clip (L1), plus a small KL term towards N(0, I). Resumable like every trainer here
/// (<see cref="TrainingState"/>).
/// </summary>
public sealed class VaeTrainer : IDisposable
{
    readonly WanVae _vae;
    readonly VaeTrainingSettings _settings;
    readonly TrainingState _state;
    readonly IReadOnlyList<TorchSharp.Modules.Parameter> _trained;

    public long Step => _state.Step;

    public VaeTrainer(WanVae vae, VaeTrainingSettings settings, string workDir)
    {
        if (settings.Steps < 1 || settings.BatchSize < 1 || settings.CheckpointEvery < 1 || settings.KlWeight < 0)
            throw new TurboException("VAE training: steps, batch size and checkpoint interval must be ≥ 1, the KL weight ≥ 0");
        _vae = vae;
        _settings = settings;
        var parameters = vae.named_parameters().ToList();
        if (settings.DecoderOnly)
            foreach (var (name, p) in parameters.Where(p => !IsDecoderSide(p.name))) p.requires_grad = false;
        _trained = parameters.Where(p => p.parameter.requires_grad).Select(p => p.parameter).ToList();
        var optimizer = optim.AdamW(_trained, settings.LearningRate, weight_decay: settings.WeightDecay);
        _state = new TrainingState(vae, optimizer, vae.LoadWeights, settings.EmaDecay, workDir);
        _state.TryResume();
    }

    /// <summary>Runs until <see cref="VaeTrainingSettings.Steps"/> (or the time limit); returns the mean loss of the last 50 steps.</summary>
    public double Train(IClipBatches data, Action<TrainingProgress>? progress = null)
    {
        _vae.train();
        return TrainingLoop.Run(_state, new LearningRateSchedule(_settings.Steps), _settings.CheckpointEvery, _settings.TimeLimit, _settings,
            () => new StepResult(TrainStep(data)), progress).Loss;
    }

    double TrainStep(IClipBatches data)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)(_settings.Seed * 1_000_003 + Step));
        var clips = data.Batch(Step, _settings.BatchSize).to(_vae.Device);
        Tensor mean, logVar;
        using (_settings.DecoderOnly ? no_grad() : null) (mean, logVar) = _vae.Encode(clips, wholeClip: true);
        var z = mean + (0.5 * logVar).exp() * randn(mean.shape, generator: generator).to(_vae.Device);
        var reconstruction = _vae.Decode(z, wholeClip: true, clamp: false);
        var kl = 0.5 * (mean.square() + logVar.exp() - 1 - logVar).mean();
        var loss = (reconstruction - clips).abs().mean() + _settings.KlWeight * kl;
        _state.Optimizer.zero_grad();
        loss.backward();
        nn.utils.clip_grad_norm_(_trained, _settings.GradientClip);
        _state.Optimizer.step();
        _state.UpdateEma();
        return loss.item<float>();
    }

    /// <summary>Parameters that turn latents into video: what <see cref="VaeTrainingSettings.DecoderOnly"/> trains.</summary>
    public static bool IsDecoderSide(string parameterName) =>
        parameterName.StartsWith("decoder.", StringComparison.Ordinal) || parameterName.StartsWith("post_quant_conv.", StringComparison.Ordinal);

    /// <summary>The EMA weights (what a trained VAE ships), CPU float32 copies.</summary>
    public Dictionary<string, Tensor> EmaWeights() => _state.EmaWeights();

    public void Dispose() => _state.Dispose();
}

/// <summary>Reconstruction quality of videos in [−1, 1].</summary>
public static class ReconstructionQuality
{
    /// <summary>PSNR in dB over all pixels with both videos mapped to [0, 1]: 10·log10(1 / MSE₀₁) = 10·log10(4 / MSE).</summary>
    public static double Psnr(Tensor reconstruction, Tensor reference)
    {
        using var difference = reconstruction.to(ScalarType.Float64) - reference.to(ScalarType.Float64);
        double mse = difference.square().mean().item<double>();
        return mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(4 / mse);
    }
}
