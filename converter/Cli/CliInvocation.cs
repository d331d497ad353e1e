using System.CommandLine;
using Turbo.Converter.Running;
using Turbo.Runtime;

namespace Turbo.Converter.Cli;

/// <summary>
/// How every Turbo program runs its command line: the one place user errors become "error: ..." and an exit code
/// (2 for a TurboException, 1 for an I/O failure, 4 when memory runs out), so each tool reports bad input the same
/// way. Running out of memory (libtorch's CUDA or CPU allocator, cuBLAS's workspace) is a one-line error, not a crash:
/// what a stage finished stays on disk, and `--resume` continues after memory is freed or settings are made smaller.
/// </summary>
public static class CliInvocation
{
    public const int UserErrorExitCode = 2;
    public const int IoErrorExitCode = 1;
    public const int OutOfMemoryExitCode = 4;

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
        catch (Exception e) when (OutOfMemory.Is(e))
        {
            error.WriteLine("error: out of memory: " + OutOfMemory.FirstLine(e));
            return OutOfMemoryExitCode;
        }
    }
}
