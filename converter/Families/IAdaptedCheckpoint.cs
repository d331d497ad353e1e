using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Converter.Families;

/// <summary>One checkpoint tensor under its canonical name, with the header entry it is read from.</summary>
public sealed record CanonicalTensor(string Name, TensorInfo Source);

/// <summary>
/// A validated checkpoint of a known family, seen through canonical names: whatever naming it came in, consumers
/// read "blocks.0.self_attn.q.weight". Owns the underlying checkpoint.
/// </summary>
public interface IAdaptedCheckpoint : IDisposable
{
    string Family { get; }
    string Naming { get; }
    IReadOnlyList<string> Files { get; }

    /// <summary>Where the config came from, e.g. "config.json beside the weights (diffusers format)".</summary>
    string ConfigOrigin { get; }

    /// <summary>The canonical config as key/value pairs, for reports.</summary>
    IReadOnlyDictionary<string, object> ConfigFields { get; }

    /// <summary>Every tensor, in canonical order.</summary>
    IReadOnlyList<CanonicalTensor> Tensors { get; }

    /// <summary>Reads a tensor by canonical name (CPU, the file's dtype).</summary>
    Tensor Read(string canonicalName);

    /// <summary>True for the Linear weights inside the transformer blocks: what W8A8 quantization turns into INT8.</summary>
    bool IsBlockLinearWeight(string canonicalName);

    /// <summary>What converting this checkpoint involves, one line per stage.</summary>
    IReadOnlyList<string> ConversionPlan { get; }
}
