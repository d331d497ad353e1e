using Turbo.Converter.Cli;

namespace Turbo.Tests.Cli;

/// <summary>Runs turbo-convert in-process with captured output.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Err);

    public static Result Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = TurboConvertCli.Run(args, output, error);
        return new Result(code, output.ToString(), error.ToString());
    }
}
