using Turbo.Converter.Families.Wan;
using Turbo.Converter.Pipelines;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.CalibrationData.Teacher;

/// <summary>
/// Writes the teacher's trained components into its diffusers-layout folder (<see cref="PipelineFolder"/>; the index and
/// tokenizer are written there directly), each component's weights from memory as float16.
/// </summary>
public static class TeacherFolder
{
    public static void WriteTextEncoder(string root, Umt5Encoder encoder) =>
        PipelineFolder.WriteTextEncoder(root, encoder.Config, path => Save(path, encoder.named_parameters().Select(p => (p.name, (Tensor)p.parameter))));

    public static void WriteVae(string root, WanVaeConfig config, IReadOnlyDictionary<string, Tensor> weights) =>
        PipelineFolder.WriteVae(root, config, path => Save(path, weights.Select(kv => (kv.Key, kv.Value))));

    /// <summary>The DiT under diffusers' tensor names, with its diffusers config.json.</summary>
    public static void WriteTransformer(string root, WanConfig config, IReadOnlyDictionary<string, Tensor> canonicalWeights) =>
        PipelineFolder.WriteTransformer(root, config,
            path => Save(path, canonicalWeights.Select(kv => (WanNames.ToForeign(kv.Key, WanNaming.Diffusers), kv.Value))));

    /// <summary>Weights are shipped as float16 (half the bytes of the float32 they train in); every loader converts them to its compute dtype.</summary>
    static void Save(string path, IEnumerable<(string Name, Tensor Tensor)> tensors)
    {
        using var scope = NewDisposeScope();
        var cpu = tensors.ToDictionary(t => t.Name, t => t.Tensor.detach().to(ScalarType.Float16).cpu().contiguous());
        SafetensorsWriter.Save(path, cpu);
    }
}
