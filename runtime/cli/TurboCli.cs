using System.CommandLine;
using Turbo.Cli.Commands;
using Turbo.Converter.Cli;

namespace Turbo.Cli;

/// <summary>The `turbo` command line: its verbs, run through <see cref="CliInvocation"/>.</summary>
public static class TurboCli
{
    public static RootCommand Build() => new("Turbo runtime: run and measure accelerated video diffusion models")
    {
        CheckNativeCommand.Create(),
        CheckInt8Command.Create(),
        CheckAttentionCommand.Create(),
        CompareTimingsCommand.Create(),
        BenchCommand.Create(),
        GenerateCommand.Create(),
    };

    /// <summary>Parses and runs <paramref name="args"/>, writing to the given streams (tests pass string writers).</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error) => CliInvocation.Run(Build(), args, output, error);
}
