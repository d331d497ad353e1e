using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Runtime.Quant;

/// <summary>The Linear layers of a model by their dotted names (e.g. <c>blocks.0.self_attn.q</c>, whose weight is <c>blocks.0.self_attn.q.weight</c>).</summary>
public static class WanLinears
{
    /// <remarks>
    /// TorchSharp also registers a module's submodule fields under their C# field names (e.g. <c>selfAttention</c>
    /// beside <c>self_attn</c>); the explicit registration comes first, so the first name seen is the canonical one.
    /// </remarks>
    public static IReadOnlyList<(string Name, WanLinear Linear)> Of(nn.Module model)
    {
        var seen = new HashSet<WanLinear>(ReferenceEqualityComparer.Instance);
        return model.named_modules().Where(m => m.module is WanLinear linear && seen.Add(linear))
            .Select(m => (m.name, (WanLinear)m.module)).ToList();
    }

    /// <summary>The layer called <paramref name="name"/>; TurboException when the model has none.</summary>
    public static WanLinear Find(nn.Module model, string name) =>
        Of(model).FirstOrDefault(l => l.Name == name).Linear
        ?? throw new TurboException($"no Linear layer '{name}' in this model (layers are named like blocks.0.self_attn.q)");
}

/// <summary>
/// How a quantized Linear is stored in a checkpoint, beside its unchanged bias <c>&lt;layer&gt;.bias</c>:
/// <c>&lt;layer&gt;.weight</c> — I8, or F8_E4M3 codes, [N, K];
/// <c>&lt;layer&gt;.weight_scale</c> — F32, [N] per output channel or [⌈N/128⌉, ⌈K/128⌉] per 128×128 block;
/// <c>&lt;layer&gt;.smooth</c> — F32 [K], only for smoothed layers: the input is divided by it before quantization.
/// The format follows from these: F8_E4M3 → fp8, a 2-D scale → int8-block128, else int8-channel.
/// </summary>
public static class QuantizedTensorNames
{
    /// <summary>Safetensors metadata key holding a JSON summary of the quantization (informational).</summary>
    public const string MetadataKey = "turbo.quantization";

    public static string Weight(string layer) => layer + ".weight";
    public static string Scale(string layer) => layer + ".weight_scale";
    public static string Smooth(string layer) => layer + ".smooth";
}
