using Turbo.Cli;
using Turbo.CalibrationData.Cli;
using Turbo.Converter.Cli;

namespace Turbo.Tests.Cli;

/// <summary>Runs turbo-convert, turbo-shapes or turbo in-process with captured output.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Err);

    public static Result Run(params string[] args) => Capture(TurboConvertCli.Run, args);

    public static Result RunShapes(params string[] args) => Capture(ShapesCli.Run, args);

    /// <summary>`turbo` (runtime/cli).</summary>
    public static Result RunTurbo(params string[] args) => Capture(TurboCli.Run, args);

    /// <summary>`turbo`'s exit code and everything it wrote, errors first.</summary>
    public static (int Code, string Text) TurboMessages(params string[] args)
    {
        var r = RunTurbo(args);
        return (r.ExitCode, r.Err + r.Out);
    }

    static Result Capture(Func<string[], TextWriter, TextWriter, int> cli, string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = cli(args, output, error);
        return new Result(code, output.ToString(), error.ToString());
    }
}
