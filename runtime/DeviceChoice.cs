using TorchSharp;
using static TorchSharp.torch;

namespace Turbo.Runtime;

/// <summary>The `--device auto|cuda|cpu` choice every computing command takes.</summary>
public static class DeviceChoice
{
    public static readonly string[] Names = ["auto", "cuda", "cpu"];

    public static Device Resolve(string choice) => choice.ToLowerInvariant() switch
    {
        "cpu" => CPU,
        "cuda" when cuda.is_available() => CUDA,
        "cuda" => throw new TurboException(
            "CUDA was requested but is not available: this TorchSharp has no CUDA libtorch. Install TorchSharp's CUDA " +
            "package, or set TURBO_LIBTORCH to a PyTorch install's torch/lib (see README), or use --device cpu."),
        "auto" => cuda.is_available() ? CUDA : CPU,
        _ => throw new TurboException($"--device {choice}: expected one of {string.Join(", ", Names)}"),
    };
}
