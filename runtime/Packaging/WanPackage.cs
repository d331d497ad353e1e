using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Runtime.Packaging;

/// <summary>
/// Builds the DiT a (verified) Wan package describes — each block's attention backend, float or W8A8/FP8 Linear
/// layers (the runtime's reference kernels) — and loads its weights, checking that what is stored is what the
/// manifest says.
/// </summary>
public static class WanPackage
{
    /// <summary>Opens <paramref name="folder"/> (every hash checked) and loads its transformer.</summary>
    public static (PackageManifest Manifest, WanModel Model) Load(string folder, ScalarType computeDtype, Device device)
    {
        var manifest = PackageFolder.Open(folder);
        return (manifest, LoadTransformer(folder, manifest, computeDtype, device));
    }

    /// <summary>The transformer of a package already opened with <see cref="PackageFolder.Open"/>.</summary>
    public static WanModel LoadTransformer(string folder, PackageManifest manifest, ScalarType computeDtype, Device device)
    {
        string manifestPath = Path.Combine(folder, PackageManifest.FileName);
        if (manifest.Family != "wan2.1")
            throw new TurboException($"{manifestPath}: a {manifest.Family} package; this runtime executes wan2.1 packages");
        var config = manifest.Config;
        try
        {
            for (int block = 0; block < config.NumLayers; block++) config.AttentionOf(block).Validate(config.HeadDim);
        }
        catch (TurboException e) { throw new TurboException($"{manifestPath}: {e.Message}"); }
        string scheme = manifest.Quantization.Scheme;
        if (scheme != QuantizationSettings.None) QuantFormats.Parse(scheme);

        string path = PackageFolder.Resolve(folder, manifest.Components.Transformer);
        using var weights = SafetensorsFile.Open(path);
        var model = QuantizedWanLoader.Load(config, weights.Tensors, weights.Read, path, computeDtype, device);
        try
        {
            var kernels = WanLinears.Of(model).Select(l => l.Linear.Kernel).OfType<QuantizedLinear>().ToList();
            if (scheme == QuantizationSettings.None && kernels.Count > 0)
                throw new TurboException($"{path}: {kernels.Count} quantized layers, but {PackageManifest.FileName} says quantization none");
            if (scheme != QuantizationSettings.None && kernels.Count != manifest.Quantization.Layers)
                throw new TurboException($"{path}: {kernels.Count} quantized layers, {PackageManifest.FileName} says {manifest.Quantization.Layers} ({scheme})");
            if (kernels.FirstOrDefault(k => k.Weight.Format.Id() != scheme) is { } other)
                throw new TurboException($"{path}: a layer is stored as {other.Weight.Format.Id()}, {PackageManifest.FileName} says {scheme}");
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
