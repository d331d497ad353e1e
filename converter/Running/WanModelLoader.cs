using Turbo.Converter.Families.Wan;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Converter.Running;

/// <summary>Builds the canonical WanModel for a validated checkpoint and loads its weights through canonical names.</summary>
public static class WanModelLoader
{
    public static WanModel Load(WanCheckpoint checkpoint, ScalarType computeDtype, Device device)
    {
        var shapes = checkpoint.Tensors.ToDictionary(t => t.Name, t => t.Source.Shape, StringComparer.Ordinal);
        var model = new WanModel(checkpoint.Config, computeDtype, device);
        try
        {
            model.LoadWeights(name => shapes.GetValueOrDefault(name), checkpoint.Read,
                string.Join(", ", checkpoint.Files.Select(Path.GetFileName)));
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
