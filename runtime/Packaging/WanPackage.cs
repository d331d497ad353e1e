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
            // Counted from the layers that got a quantized kernel (whichever kernel: reference or CUDA), and the scheme
            // read from the stored tensors, so the check does not depend on the device the package runs on.
            int quantized = WanLinears.Of(model).Count(l => l.Linear.Kernel is not null);
            if (scheme == QuantizationSettings.None && quantized > 0)
                throw new TurboException($"{path}: {quantized} quantized layers, but {PackageManifest.FileName} says quantization none");
            if (scheme != QuantizationSettings.None && quantized != manifest.Quantization.Layers)
                throw new TurboException($"{path}: {quantized} quantized layers, {PackageManifest.FileName} says {manifest.Quantization.Layers} ({scheme})");
            if (StoredSchemes(weights).FirstOrDefault(s => s != scheme) is { } other)
                throw new TurboException($"{path}: a layer is stored as {other}, {PackageManifest.FileName} says {scheme}");
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The scheme of each stored quantized layer, from its tensors (QuantizedTensorNames: FP8 codes, or a 2-D block scale).</summary>
    static IEnumerable<string> StoredSchemes(SafetensorsFile weights) =>
        weights.Tensors.Where(t => t.Name.EndsWith(".weight_scale", StringComparison.Ordinal)).Select(scale =>
        {
            string layer = scale.Name[..^".weight_scale".Length];
            var format = weights.Contains(QuantizedTensorNames.Weight(layer)) && weights.Info(QuantizedTensorNames.Weight(layer)).DType == SafetensorsDType.F8_E4M3
                ? QuantFormat.Fp8E4M3PerChannel
                : scale.Shape.Length == 2 ? QuantFormat.Int8Block128 : QuantFormat.Int8PerChannel;
            return format.Id();
        });
}
