using System.CommandLine;
using Turbo.Converter.Checkpoints;
using Turbo.Converter.Cli;
using Turbo.Converter.Inspection;
using Turbo.Converter.Packaging;

namespace Turbo.Converter.Commands;

/// <summary>`package`: a checkpoint as a package folder (turbo.json + canonical safetensors), written atomically.</summary>
public static class PackageCommand
{
    public static Command Create()
    {
        var path = CommonOptions.CheckpointArgument();
        var config = CommonOptions.Config();
        var output = CommonOptions.Output("package folder to create (must not exist)");
        var command = new Command("package", "Write a checkpoint as a package: turbo.json manifest with hashes + canonical weights.")
        {
            path, config, output,
        };
        command.SetAction(parse =>
        {
            using var checkpoint = AdaptedCheckpoints.OpenWan(parse.GetRequiredValue(path), parse.GetValue(config));
            string destination = parse.GetRequiredValue(output);
            long total = checkpoint.Tensors.Sum(t => t.Source.ByteCount);
            var manifest = ProgressBar.Run(CommandConsoles.ForProgress(parse), $"package {ByteSize.Format(total)}", total,
                advance => TeacherPackager.Write(checkpoint, destination, advance));
            CommandConsoles.Output(parse).WriteLine(
                $"wrote package {destination}: {manifest.Family}, {manifest.Files.Count} file(s), sampler {manifest.Sampler.Solver} × {manifest.Sampler.Steps}, attention {manifest.Config.Attention.Kind}, quantization {manifest.Quantization.Scheme}");
            return 0;
        });
        return command;
    }
}
