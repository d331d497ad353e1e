using System.CommandLine;
using Turbo.Converter.Commands;

namespace Turbo.Converter.Cli;

/// <summary>
/// The turbo-convert command line: its verbs, run through <see cref="CliInvocation"/>.
/// </summary>
public static class TurboConvertCli
{
    public static RootCommand Build() => new("Convert video diffusion models (Wan2.1) into accelerated packages; inspect, run and synthesize checkpoints.")
    {
        RunCommand.Create(),
        ValidateCommand.Create(),
        InspectCommand.Create(),
        ForwardCommand.Create(),
        SampleCommand.Create(),
        SynthCommand.Create(),
        DistillerCommands.Distill(),
        DistillerCommands.Sparsify(),
        DistillerCommands.Refine(),
        QuantizeCommand.Create(),
        PackageCommand.Create(),
        DistillBenchCommand.Create(),
    };

    /// <summary>Parses and runs <paramref name="args"/>, writing to the given streams (tests pass string writers).</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error) => CliInvocation.Run(Build(), args, output, error);
}
