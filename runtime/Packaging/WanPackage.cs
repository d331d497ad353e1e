using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Runtime.Packaging;

/// <summary>Builds the model a (verified) Wan package describes, with its attention backend, and loads its weights.</summary>
public static class WanPackage
{
    public static (PackageManifest Manifest, WanModel Model) Load(string folder, ScalarType computeDtype, Device device)
    {
        var manifest = PackageFolder.Open(folder);
        if (manifest.Family != "wan2.1")
            throw new TurboException($"{folder}: a {manifest.Family} package; this runtime executes wan2.1 packages");
        if (manifest.Quantization.Scheme != "none")
            throw new TurboException($"{folder}: quantization scheme '{manifest.Quantization.Scheme}' is not executable by this runtime yet");
        var model = new WanModel(manifest.Config, computeDtype, device);
        try
        {
            using var weights = SafetensorsFile.Open(PackageFolder.Resolve(folder, manifest.Weights));
            model.LoadWeights(n => weights.Contains(n) ? weights.Info(n).Shape : null, weights.Read, weights.Path);
            model.eval();
            return (manifest, model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
