using TorchSharp;
using Turbo.Runtime.Native;
using Turbo.Converter.Families.Wan;
using Turbo.Runtime;
using static TorchSharp.torch;

namespace Turbo.Converter.Commands;

/// <summary>What the compute verbs (forward, sample) share: parsed device and dtype, and the output-path check.</summary>
public static class ComputeOptions
{
    public static ScalarType ComputeDtype(string choice) => choice switch
    {
        "f32" => ScalarType.Float32,
        "bf16" => ScalarType.BFloat16,
        _ => throw new TurboException($"--dtype {choice}: expected f32 or bf16"),
    };

    /// <summary>Fails before any work when the output file could not be written.</summary>
    public static void CheckOutputPath(string path)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(folder)) throw new TurboException($"-o {path}: folder {folder} does not exist");
        if (Directory.Exists(path)) throw new TurboException($"-o {path}: is a folder; expected a .safetensors file path");
    }

    /// <summary>What ran, including which path the block ops took on CUDA (fused kernels or TorchSharp references).</summary>
    public static string Describe(WanCheckpoint checkpoint, Device device, ScalarType dtype) =>
        $"{checkpoint.Family} ({checkpoint.Naming} naming, {checkpoint.Config.NumLayers} layers, dim {checkpoint.Config.Dim}) on {device.type}, {dtype}"
        + (device.type == DeviceType.CUDA ? "; " + TurboNative.Describe() : "");
}
