using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Distiller.Training;

/// <summary>Loads named weights checked against the model (WanModel.LoadWeights, WanVae.LoadWeights).</summary>
public delegate void WeightLoader(Func<string, long[]?> shapeOf, Func<string, Tensor> read, string source);

/// <summary>
/// What makes a training run resumable: the step, the weights, an EMA of the weights and the optimizer state, in a
/// work folder. Each file is written atomically and the step file last, so a run killed at any moment resumes from the
/// last complete checkpoint.
/// </summary>
public sealed class TrainingState : IDisposable
{
    const string WeightsFile = "model.safetensors", EmaFile = "ema.safetensors", OptimizerFile = "optimizer.bin", StepFile = "trainer.json";

    readonly nn.Module _model;
    readonly double _emaDecay;
    readonly Dictionary<string, Tensor> _ema;

    public AdamW Optimizer { get; }
    public string WorkDir { get; }
    public long Step { get; set; }

    public TrainingState(nn.Module model, AdamW optimizer, double emaDecay, string workDir)
    {
        _model = model;
        _emaDecay = emaDecay;
        Optimizer = optimizer;
        WorkDir = workDir;
        Directory.CreateDirectory(workDir);
        using (no_grad())
            _ema = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
    }

    /// <summary>
    /// Moves the EMA towards the weights after optimizer step <see cref="Step"/>. The decay warms up as
    /// min(decay, (1 + n) / (10 + n)) after n steps: without that, a run of a few thousand steps ships weights that
    /// are still a sizeable share of the random init (0.999¹⁷⁰⁰ ≈ 18%).
    /// </summary>
    public void UpdateEma()
    {
        double decay = EmaDecayAt(Step, _emaDecay);
        using var noGrad = no_grad();
        foreach (var (name, p) in _model.named_parameters())
            _ema[name].mul_(decay).add_(p.detach(), alpha: 1 - decay);
    }

    public static double EmaDecayAt(long step, double decay) => Math.Min(decay, (1.0 + step) / (10.0 + step));

    /// <summary>Sets the rate of every parameter group (the schedule's value for the coming step).</summary>
    public void SetLearningRate(double rate)
    {
        foreach (var group in Optimizer.ParamGroups) group.LearningRate = rate;
    }

    /// <summary>The EMA weights (what a trained model ships), CPU float32 copies; the caller disposes them.</summary>
    public Dictionary<string, Tensor> EmaWeights() => _ema.ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float32).cpu());

    public void Save(object settings)
    {
        SaveTensors(WeightsFile, _model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter));
        SaveTensors(EmaFile, _ema);
        string optimizerTemp = Path.Combine(WorkDir, OptimizerFile + ".tmp");
        Optimizer.save_state_dict(optimizerTemp);
        File.Move(optimizerTemp, Path.Combine(WorkDir, OptimizerFile), overwrite: true);
        string stepTemp = Path.Combine(WorkDir, StepFile + ".tmp");
        File.WriteAllText(stepTemp, JsonSerializer.Serialize(new { step = Step, settings }));
        File.Move(stepTemp, Path.Combine(WorkDir, StepFile), overwrite: true);
    }

    /// <summary>Restores the last complete checkpoint of the work folder, if there is one.</summary>
    public bool TryResume(WeightLoader loadWeights)
    {
        string stepPath = Path.Combine(WorkDir, StepFile);
        if (!File.Exists(stepPath)) return false;
        using (var json = JsonDocument.Parse(File.ReadAllText(stepPath)))
            Step = json.RootElement.GetProperty("step").GetInt64();
        using (var weights = SafetensorsFile.Open(Path.Combine(WorkDir, WeightsFile)))
            loadWeights(n => weights.Contains(n) ? weights.Info(n).Shape : null, weights.Read, weights.Path);
        using (var ema = SafetensorsFile.Open(Path.Combine(WorkDir, EmaFile)))
        using (no_grad())
            foreach (var (name, t) in _ema)
            {
                using var stored = ema.Read(name);
                t.copy_(stored);
            }
        Optimizer.load_state_dict(Path.Combine(WorkDir, OptimizerFile));
        return true;
    }

    void SaveTensors(string file, Dictionary<string, Tensor> tensors)
    {
        var cpu = tensors.ToDictionary(kv => kv.Key, kv => kv.Value.detach().to(ScalarType.Float32).cpu());
        try { SafetensorsWriter.Save(Path.Combine(WorkDir, file), cpu); }
        finally { foreach (var t in cpu.Values) t.Dispose(); }
    }

    public void Dispose()
    {
        foreach (var t in _ema.Values) t.Dispose();
        Optimizer.Dispose();
    }
}
