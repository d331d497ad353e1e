using System.CommandLine;
using Turbo.Converter.Commands;
using Turbo.Runtime;

namespace Turbo.Converter.Cli;

/// <summary>
/// The turbo-convert command line: verbs, and the one place user errors become "error: ..." plus an exit code
/// (2 for a TurboException, 1 for an I/O failure), so every verb reports bad input the same way.
/// </summary>
public static class TurboConvertCli
{
    public const int UserErrorExitCode = 2;
    public const int IoErrorExitCode = 1;

    public static RootCommand Build() => new("Inspect, run and synthesize video diffusion transformer checkpoints (Wan2.1).")
    {
        InspectCommand.Create(),
        ForwardCommand.Create(),
        SampleCommand.Create(),
        SynthCommand.Create(),
        PackageCommand.Create(),
        QuantizeCommand.Create(),
    };

    /// <summary>Parses and runs <paramref name="args"/>, writing to the given streams (tests pass string writers).</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var parse = Build().Parse(args);
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (TurboException e)
        {
            error.WriteLine("error: " + e.Message);
            return UserErrorExitCode;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine("error: " + e.Message);
            return IoErrorExitCode;
        }
    }
}
