using System.CommandLine;
using Spectre.Console;

namespace Turbo.Converter.Cli;

/// <summary>
/// Spectre consoles bound to the invocation's writers: results go to Output (pipeable), progress to Error, so
/// `turbo-convert inspect --json | jq` stays clean.
/// </summary>
public static class CommandConsoles
{
    public static TextWriter Output(ParseResult parse) => parse.InvocationConfiguration.Output;

    public static IAnsiConsole ForOutput(ParseResult parse) => Create(parse.InvocationConfiguration.Output);

    public static IAnsiConsole ForProgress(ParseResult parse) => Create(parse.InvocationConfiguration.Error);

    static IAnsiConsole Create(TextWriter writer) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(writer),
        Ansi = AnsiSupport.Detect,
        ColorSystem = ColorSystemSupport.Detect,
        Interactive = InteractionSupport.Detect,
    });
}
