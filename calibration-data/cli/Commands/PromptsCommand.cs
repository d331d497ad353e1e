using System.CommandLine;
using Turbo.CalibrationData.Prompts;

namespace Turbo.CalibrationData.Cli;

/// <summary>`prompts`: writes calibration.txt, evaluation.txt and vocabulary.txt from the code that defines them.</summary>
public static class PromptsCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--output", "-o") { Description = "folder to write the three lists into", DefaultValueFactory = _ => "calibration-data/prompt-lists" };
        var command = new Command("prompts", "Write the calibration and evaluation prompt lists and the caption vocabulary.") { output };
        command.SetAction(parse =>
        {
            foreach (string path in PromptSets.Write(parse.GetRequiredValue(output)))
                parse.InvocationConfiguration.Output.WriteLine($"wrote {File.ReadAllLines(path).Length} lines to {path}");
            return 0;
        });
        return command;
    }
}
