using System.Text.Json;
using System.Text.Json.Nodes;
using Turbo.Converter.Families.Wan;
using Turbo.Converter.Files;
using Turbo.Runtime.Models;
using Turbo.Runtime.Text;

namespace Turbo.Converter.Pipelines;

/// <summary>
/// Writes the parts of a text-to-video folder in the layout of a diffusers repository (what
/// <see cref="WanTextToVideo.Load"/> reads): model_index.json, scheduler/, tokenizer/, text_encoder/, transformer/
/// (diffusers tensor names), vae/. Each component folder is written beside its final name and renamed into place
/// when complete; the weights come from the caller, who alone knows whether they are trained or random, in memory
/// or produced one tensor at a time.
/// </summary>
public static class PipelineFolder
{
    public const string Scheduler = "scheduler", Tokenizer = "tokenizer", TextEncoder = "text_encoder", Transformer = "transformer", Vae = "vae";
    public const string ConfigFile = "config.json";
    /// <summary>The weights file of a diffusers model folder (transformer/, vae/) and of a transformers one (text_encoder/).</summary>
    public const string DiffusersWeights = "diffusion_pytorch_model.safetensors", TransformersWeights = "model.safetensors";

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>model_index.json, with the sampling defaults, and the UniPC scheduler/ that diffusers' WanPipeline runs.</summary>
    public static void WriteIndex(string root, SampleSettings sampling)
    {
        Directory.CreateDirectory(root);
        var index = new JsonObject
        {
            ["_class_name"] = "WanPipeline",
            ["_diffusers_version"] = "0.33.0",
            ["_sample_defaults"] = sampling.ToJson(),
            [Scheduler] = new JsonArray("diffusers", "UniPCMultistepScheduler"),
            [TextEncoder] = new JsonArray("transformers", "UMT5EncoderModel"),
            [Tokenizer] = new JsonArray("turbo", "WordTokenizer"),
            [Transformer] = new JsonArray("diffusers", "WanTransformer3DModel"),
            [Vae] = new JsonArray("diffusers", "AutoencoderKLWan"),
        };
        WriteComponent(root, Scheduler, dir => File.WriteAllText(Path.Combine(dir, "scheduler_config.json"), new JsonObject
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
        AtomicFile.WriteAllText(Path.Combine(root, WanTextToVideo.IndexFile), index.ToJsonString(Indented));
    }

    public static void WriteTokenizer(string root, WordTokenizer tokenizer) =>
        WriteComponent(root, Tokenizer, dir => tokenizer.Save(Path.Combine(dir, WanTextToVideo.TokenizerFile)));

    /// <param name="writeWeights">writes the UMT5 weights (transformers' names) to the path it is given</param>
    public static void WriteTextEncoder(string root, Umt5Config config, Action<string> writeWeights) =>
        WriteComponent(root, TextEncoder, dir =>
        {
            File.WriteAllText(Path.Combine(dir, ConfigFile), config.ToJson());
            writeWeights(Path.Combine(dir, TransformersWeights));
        });

    /// <param name="writeWeights">writes the VAE weights (diffusers' names) to the path it is given</param>
    public static void WriteVae(string root, WanVaeConfig config, Action<string> writeWeights) =>
        WriteComponent(root, Vae, dir =>
        {
            File.WriteAllText(Path.Combine(dir, ConfigFile), config.ToJson());
            writeWeights(Path.Combine(dir, DiffusersWeights));
        });

    /// <param name="writeWeights">writes the DiT weights under diffusers' names to the path it is given</param>
    public static void WriteTransformer(string root, WanConfig config, Action<string> writeWeights) =>
        WriteComponent(root, Transformer, dir =>
        {
            File.WriteAllText(Path.Combine(dir, ConfigFile), WanConfigJson.Write(config, WanConfigFormat.Diffusers));
            writeWeights(Path.Combine(dir, DiffusersWeights));
        });

    /// <summary>Writes component <paramref name="name"/> of <paramref name="root"/> through <paramref name="write"/>, which
    /// fills the empty folder it is given; the folder replaces any earlier one only once complete.</summary>
    public static void WriteComponent(string root, string name, Action<string> write)
    {
        string final = Path.Combine(root, name), temp = final + ".partial";
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        write(temp);
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(temp, final);
    }
}
