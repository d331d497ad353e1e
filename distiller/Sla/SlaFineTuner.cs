using TorchSharp;
using Turbo.Distiller.Training;
using Turbo.Runtime;
using Turbo.Runtime.Attention;
using Turbo.Runtime.Models;
using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Distiller.Sla;

/// <summary>
/// TurboDiffusion's SLA fine-tune ("white-box"): a copy of the teacher whose self-attention is sparse-linear
/// (<see cref="AttentionKind.Sla"/>, proj_l starting at zero) is trained, every parameter of it, to give the dense
/// teacher's velocity at the same noisy input: x_σ = (1 − σ)·x0 + σ·ε from the teacher's samples, σ where a shifted
/// sampler looks (for a distilled student: its sampling levels), loss = MSE(v_SLA, v_teacher). Resumable like every
/// trainer here (<see cref="TrainingState"/>).
/// </summary>
public sealed class SlaFineTuner : IDisposable
{
    readonly WanModel _model, _teacher;
    readonly SlaSettings _settings;
    readonly TrainingState _state;

    public long Step => _state.Step;

    /// <param name="model">the model trained, with sparse-linear self-attention (<see cref="SparseCopy"/> of the teacher)</param>
    /// <param name="teacher">the frozen dense teacher</param>
    public SlaFineTuner(WanModel model, WanModel teacher, SlaSettings settings, string workDir)
    {
        settings.Validate();
        if (model.Config.Attention.Kind != AttentionKind.Sla)
            throw new TurboException($"SLA fine-tune: the model trained must use Sla self-attention, found {model.Config.Attention.Kind}");
        if (Architecture(model.Config) != Architecture(teacher.Config))
            throw new TurboException("SLA fine-tune: the model and the teacher must have the same architecture");
        _model = model;
        _teacher = teacher;
        _settings = settings;
        var optimizer = optim.AdamW(model.parameters(), settings.LearningRate, weight_decay: settings.WeightDecay);
        _state = new TrainingState(model, optimizer, model.LoadWeights, settings.EmaDecay, workDir);
        _state.TryResume();
    }

    /// <summary>The config but its attention, as text (records compare arrays such as the patch size by reference).</summary>
    static string Architecture(WanConfig config) => System.Text.Json.JsonSerializer.Serialize(config with { Attention = AttentionConfig.Dense });

    /// <summary>
    /// A model with the dense model's weights whose self-attention is <paramref name="attention"/> (Sla; its proj_l
    /// start at zero, so it begins as pure block-sparse attention), on the dense model's device and dtype.
    /// </summary>
    public static WanModel SparseCopy(WanModel dense, AttentionConfig attention)
    {
        if (attention.Kind != AttentionKind.Sla)
            throw new TurboException($"SLA fine-tune: the attention must be Sla (trainable), found {attention.Kind}");
        attention.Validate(dense.Config.HeadDim);
        var model = new WanModel(dense.Config with { Attention = attention }, dense.ComputeDtype, dense.Device);
        try
        {
            var weights = dense.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
            using (no_grad())
                foreach (var (name, p) in model.named_parameters())
                    if (weights.TryGetValue(name, out var w)) p.copy_(w);
                    else if (!name.Contains(".attn_op.local_attn."))
                        throw new TurboException($"SLA fine-tune: parameter {name} is neither the dense model's nor SLA's");
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Runs until <see cref="SlaSettings.Steps"/> (or the time limit); returns the means of the last 50 steps.</summary>
    public TrainingSummary Train(ITrainingBatches data, Action<TrainingProgress>? progress = null)
    {
        _model.train();
        _teacher.eval();
        return TrainingLoop.Run(_state, new LearningRateSchedule(_settings.Steps), _settings.CheckpointEvery, _settings.TimeLimit, _settings,
            () => new StepResult(TrainStep(data)), progress);
    }

    double TrainStep(ITrainingBatches data)
    {
        using var scope = NewDisposeScope();
        var device = _model.Device;
        using var generator = new Generator((ulong)(_settings.Seed * 1_000_003 + Step));
        var (latents, context) = data.Batch(Step, _settings.BatchSize);
        var x0 = latents.to(ScalarType.Float32, device);
        context = context.to(device);
        long b = x0.shape[0];
        var sigma = _settings.DrawSigmas(b, generator).to(ScalarType.Float32, device);
        var noise = randn(x0.shape, generator: generator).to(device);
        var s = sigma.view(b, 1, 1, 1, 1);
        var noisy = (1 - s) * x0 + s * noise;
        var timestep = sigma * FlowMatchSchedule.TrainTimesteps;
        Tensor target;
        using (no_grad()) target = _teacher.Forward(noisy, timestep, context);
        var loss = nn.functional.mse_loss(_model.Forward(noisy, timestep, context), target);

        _state.Optimizer.zero_grad();
        loss.backward();
        if (_settings.GradientClip is { } clip) nn.utils.clip_grad_norm_(_model.parameters(), clip);
        _state.Optimizer.step();
        _state.UpdateEma();
        double value = loss.to(ScalarType.Float64).item<double>();
        if (!double.IsFinite(value))
            throw new TurboException($"SLA fine-tune: the loss became {value} at step {Step}; the last checkpoint is intact (try a lower learning rate)");
        return value;
    }

    /// <summary>The EMA weights (what ships, proj_l included), CPU float32 copies the caller disposes.</summary>
    public Dictionary<string, Tensor> EmaWeights() => _state.EmaWeights();

    public void Dispose() => _state.Dispose();
}
