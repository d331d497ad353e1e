using Turbo.Cli;
using Turbo.Runtime.Native;

// `turbo`: the runtime's command line — executes and measures models on this machine's GPU (or CPU).
TorchLoader.EnsureLoadable();
return TurboCli.Run(args, Console.Out, Console.Error);
