using System.CommandLine;
using Turbo.Runtime;

namespace Turbo.Converter.Cli;

/// <summary>
/// How every Turbo program runs its command line: the one place user errors become "error: ..." and an exit code
/// (2 for a TurboException, 1 for an I/O failure), so each tool reports bad input the same way.
/// </summary>
public static class CliInvocation
{
    public const int UserErrorExitCode = 2;
    public const int IoErrorExitCode = 1;

    /// <summary>Parses and runs <paramref name="args"/>, writing to the given streams (tests pass string writers).</summary>
    public static int Run(RootCommand root, string[] args, TextWriter output, TextWriter error)
    {
        var parse = root.Parse(args);
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
