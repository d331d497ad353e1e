using System.CommandLine;
using Turbo.Cli.Commands;
using Turbo.Runtime;
using Turbo.Runtime.Native;

// `turbo`: the runtime's command line — executes and measures models on this machine's GPU (or CPU).
try
{
    TorchLoader.EnsureLoadable();
    var root = new RootCommand("Turbo runtime: run and measure accelerated video diffusion models");
    root.Subcommands.Add(CheckNativeCommand.Create());
    root.Subcommands.Add(BenchCommand.Create());
    root.Subcommands.Add(GenerateCommand.Create());
    return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (TurboException e)
{
    Console.Error.WriteLine("error: " + e.Message);
    return 2;
}
