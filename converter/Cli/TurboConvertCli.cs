using System.CommandLine;
using Turbo.Converter.Commands;

namespace Turbo.Converter.Cli;

/// <summary>
/// The turbo-convert command line: its verbs, run through <see cref="CliInvocation"/>.
/// </summary>
public static class TurboConvertCli
{
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
    public static int Run(string[] args, TextWriter output, TextWriter error) => CliInvocation.Run(Build(), args, output, error);
}
