using Turbo.Tests.Support;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using Turbo.Tests.IO;
using static TorchSharp.torch;

namespace Turbo.Tests.Models;

/// <summary>The tiny UMT5 golden files (upstream transformers on random weights).</summary>
static class Umt5Golden
{
    public static string WeightsPath => Golden.Path("umt5.transformers.safetensors");
    public static string IoPath => Golden.Path("umt5.io.safetensors");

    public static Umt5Config Config()
    {
        using var weights = SafetensorsFile.Open(WeightsPath);
        return Umt5Config.FromMetadata(weights.Metadata, weights.Path);
    }

    public static Umt5Encoder LoadModel(ScalarType computeDtype = ScalarType.Float32) =>
        Umt5Encoder.FromCheckpoint(WeightsPath, computeDtype);

    /// <summary>Every golden weight as a CPU tensor, by its stored name (the caller disposes them).</summary>
    public static Dictionary<string, Tensor> ReadAllWeights()
    {
        using var weights = SafetensorsFile.Open(WeightsPath);
        return weights.Tensors.ToDictionary(t => t.Name, t => weights.Read(t.Name));
    }
}
