using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Distiller.Training;

/// <summary>Loads named weights checked against the model (WanModel.LoadWeights, WanVae.LoadWeights).</summary>
public delegate void WeightLoader(Func<string, long[]?> shapeOf, Func<string, Tensor> read, string source);

/// <summary>
/// One network a run trains: its weights, its optimizer, how to load its weights back, and the decay of the EMA kept
/// of its weights (null: none, e.g. for a critic that never ships). <paramref name="Name"/> prefixes its files in a
/// checkpoint ("" for the run's main network).
/// </summary>
public sealed record TrainedPart(string Name, nn.Module Module, AdamW Optimizer, WeightLoader LoadWeights, double? EmaDecay);

/// <summary>
/// What makes a training run resumable: the step, and for every trained part its weights, the EMA of its weights and
/// its optimizer state. A checkpoint is written whole into <c>checkpoint.partial/</c> and then renamed to
/// <c>checkpoint/</c> (the previous one moved aside first and deleted last), so a run killed at any moment resumes
/// from the last complete checkpoint, with every part at the same step.
/// </summary>
public sealed class TrainingState : IDisposable
{
    const string CurrentFolder = "checkpoint", PartialFolder = "checkpoint.partial", PreviousFolder = "checkpoint.previous";
    const string WeightsFile = "model.safetensors", EmaFile = "ema.safetensors", OptimizerFile = "optimizer.bin", StepFile = "trainer.json";

    readonly IReadOnlyList<TrainedPart> _parts;
    readonly Dictionary<string, Dictionary<string, Tensor>> _ema = [];
    readonly Dictionary<string, double[]> _baseRates;

    public string WorkDir { get; }
    public long Step { get; set; }

    /// <summary>The main (first) part's optimizer.</summary>
    public AdamW Optimizer => _parts[0].Optimizer;

    public AdamW OptimizerOf(string partName) => Part(partName).Optimizer;

    /// <summary>The folder of the last complete checkpoint of a work folder (it may not exist yet).</summary>
    public static string CheckpointFolder(string workDir) => Path.Combine(workDir, CurrentFolder);

    /// <summary>A run that trains one network with an EMA of its weights.</summary>
    public TrainingState(nn.Module model, AdamW optimizer, WeightLoader loadWeights, double emaDecay, string workDir)
        : this([new TrainedPart("", model, optimizer, loadWeights, emaDecay)], workDir) { }

    public TrainingState(IReadOnlyList<TrainedPart> parts, string workDir)
    {
        if (parts.Count == 0 || parts.Select(p => p.Name).Distinct().Count() != parts.Count)
            throw new TurboException("training state: expected at least one part, each with its own name");
        if (parts.Any(p => p.EmaDecay is < 0 or >= 1))
            throw new TurboException("training state: an EMA decay must be in [0, 1)");
        _parts = parts;
        _baseRates = parts.ToDictionary(p => p.Name, p => p.Optimizer.ParamGroups.Select(g => g.LearningRate).ToArray());
        WorkDir = workDir;
        Directory.CreateDirectory(workDir);
        using var noGrad = no_grad();
        foreach (var part in parts.Where(p => p.EmaDecay is not null))
            _ema[part.Name] = part.Module.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
    }

    /// <summary>Moves the EMA of every part that keeps one towards its current weights.</summary>
    public void UpdateEma()
    {
        foreach (var part in _parts) UpdateEma(part.Name);
    }

    /// <summary>
    /// Moves the EMA of the named part towards its current weights (nothing for a part without EMA). The decay warms
    /// up as min(decay, (1 + n) / (10 + n)) after n steps: without that, a run of a few thousand steps ships weights
    /// that are still a sizeable share of the random init (0.999¹⁷⁰⁰ ≈ 18%).
    /// </summary>
    public void UpdateEma(string partName)
    {
        var part = Part(partName);
        if (part.EmaDecay is not { } target) return;
        double decay = EmaDecayAt(Step, target);
        using var noGrad = no_grad();
        var ema = _ema[part.Name];
        foreach (var (name, p) in part.Module.named_parameters())
            if (p.requires_grad) // a frozen parameter is its own average; updating it would only add rounding
                ema[name].mul_(decay).add_(p.detach(), alpha: 1 - decay);
    }

    public static double EmaDecayAt(long step, double decay) => Math.Min(decay, (1.0 + step) / (10.0 + step));

    /// <summary>Sets every optimizer's rate to its own base rate (the one it was built with) times <paramref name="factor"/>.</summary>
    public void ScaleLearningRates(double factor)
    {
        foreach (var part in _parts)
        {
            var baseRates = _baseRates[part.Name];
            int i = 0;
            foreach (var group in part.Optimizer.ParamGroups) group.LearningRate = baseRates[i++] * factor;
        }
    }

    /// <summary>The EMA weights of a part (the main one by default): what a trained model ships, CPU float32 copies the caller disposes.</summary>
    public Dictionary<string, Tensor> EmaWeights(string partName = "")
    {
        var part = Part(partName);
        if (!_ema.TryGetValue(part.Name, out var ema))
            throw new TurboException($"training state: part '{partName}' keeps no EMA");
        return ema.ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float32).cpu());
    }

    public void Save(object settings)
    {
        string partial = Path.Combine(WorkDir, PartialFolder), current = CheckpointFolder(WorkDir), previous = Path.Combine(WorkDir, PreviousFolder);
        if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        Directory.CreateDirectory(partial);
        foreach (var part in _parts)
        {
            SaveTensors(Path.Combine(partial, FileName(part, WeightsFile)),
                part.Module.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter));
            if (_ema.TryGetValue(part.Name, out var ema)) SaveTensors(Path.Combine(partial, FileName(part, EmaFile)), ema);
            part.Optimizer.save_state_dict(Path.Combine(partial, FileName(part, OptimizerFile)));
        }
        File.WriteAllText(Path.Combine(partial, StepFile), JsonSerializer.Serialize(new { step = Step, settings }));

        if (Directory.Exists(previous)) Directory.Delete(previous, recursive: true);
        if (Directory.Exists(current)) Directory.Move(current, previous);
        Directory.Move(partial, current);
        if (Directory.Exists(previous)) Directory.Delete(previous, recursive: true);
    }

    /// <summary>Restores the last complete checkpoint of the work folder, if there is one.</summary>
    public bool TryResume()
    {
        // A run stopped between moving the old checkpoint aside and renaming the new one leaves only the previous one;
        // work folders of the earlier layout hold the same files in the work folder itself.
        string? folder = new[] { CheckpointFolder(WorkDir), Path.Combine(WorkDir, PreviousFolder), WorkDir }
            .FirstOrDefault(f => File.Exists(Path.Combine(f, StepFile)));
        if (folder is null) return false;
        string stepPath = Path.Combine(folder, StepFile);
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(stepPath));
            Step = json.RootElement.GetProperty("step").GetInt64();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new TurboException($"{stepPath}: not a training checkpoint ({e.Message})");
        }
        foreach (var part in _parts)
        {
            using (var weights = SafetensorsFile.Open(Path.Combine(folder, FileName(part, WeightsFile))))
                part.LoadWeights(n => weights.Contains(n) ? weights.Info(n).Shape : null, weights.Read, weights.Path);
            if (_ema.TryGetValue(part.Name, out var ema))
                using (var stored = SafetensorsFile.Open(Path.Combine(folder, FileName(part, EmaFile))))
                using (no_grad())
                    foreach (var (name, t) in ema)
                    {
                        if (!stored.Contains(name) || !stored.Info(name).Shape.SequenceEqual(t.shape))
                            throw new TurboException($"{stored.Path}: tensor {name} is missing or has another shape than the model's");
                        using var value = stored.Read(name);
                        t.copy_(value);
                    }
            part.Optimizer.load_state_dict(Path.Combine(folder, FileName(part, OptimizerFile)));
        }
        return true;
    }

    TrainedPart Part(string name) =>
        _parts.FirstOrDefault(p => p.Name == name) ?? throw new TurboException($"training state: no part named '{name}'");

    static string FileName(TrainedPart part, string file) => part.Name.Length == 0 ? file : $"{part.Name}.{file}";

    static void SaveTensors(string path, Dictionary<string, Tensor> tensors)
    {
        var cpu = tensors.ToDictionary(kv => kv.Key, kv => kv.Value.detach().to(ScalarType.Float32).cpu());
        try { SafetensorsWriter.Save(path, cpu); }
        finally { foreach (var t in cpu.Values) t.Dispose(); }
    }

    public void Dispose()
    {
        foreach (var ema in _ema.Values)
            foreach (var t in ema.Values) t.Dispose();
        foreach (var part in _parts) part.Optimizer.Dispose();
    }
}
