using System.CommandLine;
using Turbo.Runtime;

namespace Turbo.CalibrationData.Cli;

/// <summary>
/// The turbo-shapes command line: prompt lists, previews, and the oracle's training and evaluation. User errors
/// become "error: ..." and exit code 2 (1 for an I/O failure), as in the other tools.
/// </summary>
public static class ShapesCli
{
    public const int UserErrorExitCode = 2;
    public const int IoErrorExitCode = 1;

    public static RootCommand Build() => new("The synthetic captioned \"Shapes\" video set: prompts, previews and its oracle.")
    {
        PromptsCommand.Create(),
        PreviewCommand.Create(),
        TrainOracleCommand.Create(),
        EvaluateOracleCommand.Create(),
        TeacherCommands.Vae(),
        TeacherCommands.Dit(),
        TeacherCommands.Evaluate(),
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
