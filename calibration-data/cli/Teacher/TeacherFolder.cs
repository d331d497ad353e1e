using System.Text.Json;
using System.Text.Json.Nodes;
using Turbo.Converter.Families.Wan;
using Turbo.Converter.Pipelines;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using Turbo.Runtime.Text;
using static TorchSharp.torch;

namespace Turbo.CalibrationData.Teacher;

/// <summary>
/// Writes the teacher in the layout of a diffusers repository (what <see cref="WanTextToVideo.Load"/> reads):
/// model_index.json, scheduler/, tokenizer/, text_encoder/, transformer/ (diffusers tensor names), vae/. Each
/// component folder is written beside its final name and renamed into place when complete.
/// </summary>
public static class TeacherFolder
{
    const string DiffusersWeights = "diffusion_pytorch_model.safetensors";
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void WriteIndex(string root, SampleSettings sampling)
    {
        Directory.CreateDirectory(root);
        var index = new JsonObject
        {
            ["_class_name"] = "WanPipeline",
            ["_diffusers_version"] = "0.33.0",
            ["_sample_defaults"] = sampling.ToJson(),
            ["scheduler"] = new JsonArray("diffusers", "UniPCMultistepScheduler"),
            ["text_encoder"] = new JsonArray("transformers", "UMT5EncoderModel"),
            ["tokenizer"] = new JsonArray("turbo", "WordTokenizer"),
            ["transformer"] = new JsonArray("diffusers", "WanTransformer3DModel"),
            ["vae"] = new JsonArray("diffusers", "AutoencoderKLWan"),
        };
        WriteComponent(root, "scheduler", dir => File.WriteAllText(Path.Combine(dir, "scheduler_config.json"), new JsonObject
        {
            ["_class_name"] = "UniPCMultistepScheduler",
            ["num_train_timesteps"] = 1000,
            ["prediction_type"] = "flow_prediction",
            ["use_flow_sigmas"] = true,
            ["flow_shift"] = sampling.Shift,
            ["solver_order"] = 2,
            ["solver_type"] = "bh2",
            ["lower_order_final"] = true,
        }.ToJsonString(Indented)));
        string temp = Path.Combine(root, WanTextToVideo.IndexFile + ".tmp");
        File.WriteAllText(temp, index.ToJsonString(Indented));
        File.Move(temp, Path.Combine(root, WanTextToVideo.IndexFile), overwrite: true);
    }

    public static void WriteTokenizer(string root, WordTokenizer tokenizer) =>
        WriteComponent(root, "tokenizer", dir => tokenizer.Save(Path.Combine(dir, WanTextToVideo.TokenizerFile)));

    public static void WriteTextEncoder(string root, Umt5Encoder encoder) =>
        WriteComponent(root, "text_encoder", dir =>
        {
            File.WriteAllText(Path.Combine(dir, "config.json"), encoder.Config.ToJson());
            Save(Path.Combine(dir, "model.safetensors"), encoder.named_parameters().Select(p => (p.name, (Tensor)p.parameter)));
        });

    public static void WriteVae(string root, WanVaeConfig config, IReadOnlyDictionary<string, Tensor> weights) =>
        WriteComponent(root, "vae", dir =>
        {
            File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJson());
            Save(Path.Combine(dir, DiffusersWeights), weights.Select(kv => (kv.Key, kv.Value)));
        });

    /// <summary>The DiT under diffusers' tensor names, with its diffusers config.json.</summary>
    public static void WriteTransformer(string root, WanConfig config, IReadOnlyDictionary<string, Tensor> canonicalWeights) =>
        WriteComponent(root, "transformer", dir =>
        {
            File.WriteAllText(Path.Combine(dir, "config.json"), WanConfigJson.Write(config, WanConfigFormat.Diffusers));
            Save(Path.Combine(dir, DiffusersWeights), canonicalWeights.Select(kv => (WanNames.ToForeign(kv.Key, WanNaming.Diffusers), kv.Value)));
        });

    /// <summary>Weights are shipped as float16 (half the bytes of the float32 they train in); every loader converts them to its compute dtype.</summary>
    static void Save(string path, IEnumerable<(string Name, Tensor Tensor)> tensors)
    {
        using var scope = NewDisposeScope();
        var cpu = tensors.ToDictionary(t => t.Name, t => t.Tensor.detach().to(ScalarType.Float16).cpu().contiguous());
        SafetensorsWriter.Save(path, cpu);
    }

    static void WriteComponent(string root, string name, Action<string> write)
    {
        string final = Path.Combine(root, name), temp = final + ".partial";
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        write(temp);
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(temp, final);
    }
}
