using System.CommandLine;
using System.Globalization;
using Turbo.Converter.Cli;
using Turbo.Converter.Families.Wan;
using Turbo.Converter.Inspection;
using Turbo.Converter.Synth;
using Turbo.Runtime.IO;

namespace Turbo.Converter.Commands;

/// <summary>
/// `synth`: a random checkpoint with the exact layout of a real one, or with --pipeline a whole text-to-video folder
/// around it, for tests and benchmarks without downloads.
/// </summary>
public static class SynthCommand
{
    public static Command Create()
    {
        var family = new Option<string>("--family") { Description = "model family", DefaultValueFactory = _ => "wan2.1" };
        family.AcceptOnlyFromAmong("wan2.1");
        var preset = new Option<string>("--preset") { Description = "size: tiny (the golden test config), 1.3b or 14b", Required = true };
        preset.AcceptOnlyFromAmong(SynthPreset.Names);
        var layers = new Option<int?>("--layers") { Description = "number of blocks (default: the preset's)" };
        var dtype = new Option<string>("--dtype") { Description = "stored dtype: f32 (as released) or bf16 (with --pipeline: of the transformer and text encoder; the VAE stays f32)", DefaultValueFactory = _ => "f32" };
        dtype.AcceptOnlyFromAmong("f32", "bf16");
        var naming = new Option<string>("--naming") { Description = "tensor names: original, diffusers or comfyui (with --pipeline: diffusers, the default there)", DefaultValueFactory = _ => "original" };
        naming.AcceptOnlyFromAmong("original", "diffusers", "comfyui");
        var shards = new Option<int>("--shards") { Description = "number of shard files (1 = a single file; an upper bound when tensor sizes cannot be split evenly)", DefaultValueFactory = _ => 1 };
        var seed = new Option<ulong>("--seed") { Description = "random seed", DefaultValueFactory = _ => 0 };
        var pipeline = new Option<bool>("--pipeline")
        {
            Description = "write a whole text-to-video folder in diffusers layout (model_index.json, tokenizer/, text_encoder/, transformer/, vae/) "
                + "that turbo-convert run and turbo generate take, for speed measurements: this transformer, Wan2.1's VAE (a small one for tiny), the size's sampling "
                + "defaults, and a 2-layer UMT5 of the DiT's text width that only stands in for UMT5-XXL (real UMT5-XXL is not synthesized)",
        };
        var output = CommonOptions.Output("folder to create (must be empty or absent)");
        var command = new Command("synth", "Write a random checkpoint with the exact names, shapes and files of a real one, or a whole text-to-video folder around it.")
        {
            family, preset, layers, dtype, naming, shards, seed, pipeline, output,
        };
        command.SetAction(parse =>
        {
            bool wholePipeline = parse.GetValue(pipeline);
            // A diffusers-layout folder has diffusers names, so --pipeline changes the default naming.
            string namingId = wholePipeline && parse.GetResult(naming) is not { Implicit: false } ? WanNaming.Diffusers.Id() : parse.GetRequiredValue(naming);
            string presetName = parse.GetRequiredValue(preset);
            var request = new SynthRequest(
                SynthPreset.Get(presetName, parse.GetValue(layers)),
                WanNames.Parse(namingId),
                parse.GetRequiredValue(dtype) == "bf16" ? SafetensorsDType.BF16 : SafetensorsDType.F32,
                parse.GetValue(shards),
                parse.GetValue(seed),
                parse.GetRequiredValue(output));
            var parts = wholePipeline ? SynthPipelinePreset.Get(presetName, request.Config) : null;
            long total = (parts is null
                ? SynthLayout.For(request.Config, request.Naming, request.DType)
                : SynthPipelineLayout.For(parts, request.Config, request.DType).All).Sum(t => t.ByteCount);
            var started = DateTime.UtcNow;
            var result = ProgressBar.Run(CommandConsoles.ForProgress(parse), $"synth {ByteSize.Format(total)}", total,
                advance => parts is null
                    ? CheckpointSynthesizer.Write(request, bytes => advance(bytes))
                    : PipelineSynthesizer.Write(request, parts, bytes => advance(bytes)));
            double seconds = (DateTime.UtcNow - started).TotalSeconds;
            CommandConsoles.Output(parse).WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {result.TensorCount} tensors, {result.Parameters:N0} parameters, {ByteSize.Format(result.Bytes)} in {seconds:F1} s to {request.OutputDir}"));
            foreach (string file in result.Files) CommandConsoles.Output(parse).WriteLine("  " + file);
            return 0;
        });
        return command;
    }
}
