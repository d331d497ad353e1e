using Turbo.CalibrationData.Cli;
using Turbo.Runtime.Native;

// TorchSharp's native library must be made loadable before anything touches a tensor.
TorchLoader.EnsureLoadable();
return ShapesCli.Run(args, Console.Out, Console.Error);
