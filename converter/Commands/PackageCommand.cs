using System.CommandLine;
using Spectre.Console;
using Turbo.Converter.Cli;
using Turbo.Converter.Conversion;
using Turbo.Runtime.Packaging;

namespace Turbo.Converter.Commands;

/// <summary>
/// `package MODEL -o PKG`: the package stage on its own, for a teacher folder (its weights as they are) or a stage's
/// output folder (e.g. what `quantize` wrote): a self-contained package, written atomically.
/// </summary>
public static class PackageCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "a text-to-video teacher folder (diffusers layout) or a conversion stage's output folder (state.json)" };
        var output = CommonOptions.Output("package folder to create (must not exist)");
        var attention = PackageStageOptions.Attention();
        var command = new Command("package", "Write a text-to-video model as a package: turbo.json (sampler, attention, quantization, provenance, hashes) + its parts.")
        {
            model, output, attention,
        };
        command.SetAction(parse =>
        {
            string destination = Path.GetFullPath(parse.GetRequiredValue(output));
            PackageWriter.CheckDestination(destination);
            var input = ModelState.Open(parse.GetRequiredValue(model));
            var stage = new PackageStage(destination, parse.GetRequiredValue(attention));
            // The stage writes into a scratch folder beside the destination (one file system, so the final rename is atomic).
            string scratch = destination + ".package-" + Environment.ProcessId;
            Directory.CreateDirectory(scratch);
            try
            {
                var result = SpectreStages.Run(CommandConsoles.ForProgress(parse), progress => stage.Run(new StageContext(input, scratch, progress)));
                var table = new Table().Border(TableBorder.Rounded).AddColumns("package", "");
                foreach (var (key, value) in result.Summary) table.AddRow(new Text(key), new Text(value));
                CommandConsoles.ForOutput(parse).Write(table);
            }
            finally
            {
                Directory.Delete(scratch, recursive: true);
            }
            return 0;
        });
        return command;
    }
}
