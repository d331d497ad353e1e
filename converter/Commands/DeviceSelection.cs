using Turbo.Runtime;
using static TorchSharp.torch;

namespace Turbo.Converter.Commands;

/// <summary>Turns --device into a TorchSharp device, refusing CUDA clearly where LibTorch has none.</summary>
public static class DeviceSelection
{
    public static Device Resolve(string choice) => choice switch
    {
        "cpu" => CPU,
        "cuda" when cuda.is_available() => CUDA,
        "cuda" => throw new TurboException(
            "CUDA was requested (--device cuda) but no CUDA device is available to LibTorch in this process (the CPU-only LibTorch is loaded, or there is no GPU); use --device cpu or auto"),
        "auto" => cuda.is_available() ? CUDA : CPU,
        _ => throw new TurboException($"--device {choice}: expected auto, cpu or cuda"),
    };
}
