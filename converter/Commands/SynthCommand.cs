using System.CommandLine;
using System.Globalization;
using Turbo.Converter.Cli;
using Turbo.Converter.Families.Wan;
using Turbo.Converter.Inspection;
using Turbo.Converter.Synth;
using Turbo.Runtime.IO;

namespace Turbo.Converter.Commands;

/// <summary>`synth`: a random checkpoint with the exact layout of a real one, for tests and benchmarks without downloads.</summary>
public static class SynthCommand
{
    public static Command Create()
    {
        var family = new Option<string>("--family") { Description = "model family", DefaultValueFactory = _ => "wan2.1" };
        family.AcceptOnlyFromAmong("wan2.1");
        var preset = new Option<string>("--preset") { Description = "size: tiny (the golden test config), 1.3b or 14b", Required = true };
        preset.AcceptOnlyFromAmong(SynthPreset.Names);
        var layers = new Option<int?>("--layers") { Description = "number of blocks (default: the preset's)" };
        var dtype = new Option<string>("--dtype") { Description = "stored dtype: f32 (as released) or bf16", DefaultValueFactory = _ => "f32" };
        dtype.AcceptOnlyFromAmong("f32", "bf16");
        var naming = new Option<string>("--naming") { Description = "tensor names: original, diffusers or comfyui", DefaultValueFactory = _ => "original" };
        naming.AcceptOnlyFromAmong("original", "diffusers", "comfyui");
        var shards = new Option<int>("--shards") { Description = "number of shard files (1 = a single file; an upper bound when tensor sizes cannot be split evenly)", DefaultValueFactory = _ => 1 };
        var seed = new Option<ulong>("--seed") { Description = "random seed", DefaultValueFactory = _ => 0 };
        var output = CommonOptions.Output("folder to create (must be empty or absent)");
        var command = new Command("synth", "Write a random checkpoint with the exact names, shapes and files of a real one.")
        {
            family, preset, layers, dtype, naming, shards, seed, output,
        };
        command.SetAction(parse =>
        {
            var request = new SynthRequest(
                SynthPreset.Get(parse.GetRequiredValue(preset), parse.GetValue(layers)),
                WanNames.Parse(parse.GetRequiredValue(naming)),
                parse.GetRequiredValue(dtype) == "bf16" ? SafetensorsDType.BF16 : SafetensorsDType.F32,
                parse.GetValue(shards),
                parse.GetValue(seed),
                parse.GetRequiredValue(output));
            long total = SynthLayout.For(request.Config, request.Naming, request.DType).Sum(t => t.ByteCount);
            var started = DateTime.UtcNow;
            var result = ProgressBar.Run(CommandConsoles.ForProgress(parse), $"synth {ByteSize.Format(total)}", total,
                advance => CheckpointSynthesizer.Write(request, bytes => advance(bytes)));
            double seconds = (DateTime.UtcNow - started).TotalSeconds;
            CommandConsoles.Output(parse).WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {result.TensorCount} tensors, {result.Parameters:N0} parameters, {ByteSize.Format(result.Bytes)} in {seconds:F1} s to {request.OutputDir}"));
            foreach (string file in result.Files) CommandConsoles.Output(parse).WriteLine("  " + file);
            return 0;
        });
        return command;
    }
}
