using System.CommandLine;
using Turbo.Cli.Commands;
using Turbo.Converter.Cli;
using Turbo.Runtime.Native;

// `turbo`: the runtime's command line — executes and measures models on this machine's GPU (or CPU).
TorchLoader.EnsureLoadable();
var root = new RootCommand("Turbo runtime: run and measure accelerated video diffusion models")
{
    CheckNativeCommand.Create(),
    CheckInt8Command.Create(),
    CheckAttentionCommand.Create(),
    BenchCommand.Create(),
    GenerateCommand.Create(),
};
return CliInvocation.Run(root, args, Console.Out, Console.Error);
