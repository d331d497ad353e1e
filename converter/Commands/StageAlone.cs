using Spectre.Console;
using Turbo.Converter.Cli;
using Turbo.Converter.Conversion;
using Turbo.Runtime;

namespace Turbo.Converter.Commands;

/// <summary>
/// One stage of `run` as a command of its own: it reads a model folder (a teacher, or an earlier stage's output),
/// works in the output folder — which then holds the stage's files and state.json, the input of the next stage's
/// command — and shows its summary. Rerun with the same output folder, it resumes what the stage can resume.
/// </summary>
public static class StageAlone
{
    public static int Run(System.CommandLine.ParseResult parse, IConversionStage stage, string model, string outputFolder)
    {
        if (File.Exists(Path.Combine(outputFolder, ModelState.FileName)))
            throw new TurboException($"{outputFolder}: already holds a finished stage ({ModelState.FileName}); choose another output folder");
        var input = ModelState.Open(model);
        bool created = !Directory.Exists(outputFolder);
        Directory.CreateDirectory(outputFolder);
        StageResult result;
        try { result = SpectreStages.Run(CommandConsoles.ForProgress(parse), progress => stage.Run(new StageContext(input, outputFolder, progress))); }
        catch when (created && !Directory.EnumerateFileSystemEntries(outputFolder).Any())
        {
            Directory.Delete(outputFolder); // refused before writing anything: leave no empty folder behind
            throw;
        }
        result.Output.Save(outputFolder);
        var table = new Table().Border(TableBorder.Rounded).AddColumns(stage.Name, "");
        foreach (var (key, value) in result.Summary) table.AddRow(new Text(key), new Text(value));
        CommandConsoles.ForOutput(parse).Write(table);
        CommandConsoles.Output(parse).WriteLine($"wrote {outputFolder}");
        return result.ExitCode;
    }
}
