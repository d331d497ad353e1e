using Turbo.Runtime.Models;

namespace Turbo.Converter.Families.Wan;

/// <summary>One expected tensor: canonical (original Wan2.1) name and shape.</summary>
public sealed record LayoutEntry(string Name, long[] Shape)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>
/// Every parameter of a Wan2.1 text-to-video DiT for a given config, in the original release's state-dict order
/// (a module's own parameters before its children's). Names and shapes as in the original wan/modules/model.py.
/// </summary>
public static class WanLayout
{
    public static IReadOnlyList<LayoutEntry> For(WanConfig c)
    {
        long d = c.Dim, f = c.FfnDim;
        var list = new List<LayoutEntry>
        {
            new("patch_embedding.weight", [d, c.InDim, c.PatchSize[0], c.PatchSize[1], c.PatchSize[2]]),
            new("patch_embedding.bias", [d]),
            new("text_embedding.0.weight", [d, c.TextDim]),
            new("text_embedding.0.bias", [d]),
            new("text_embedding.2.weight", [d, d]),
            new("text_embedding.2.bias", [d]),
            new("time_embedding.0.weight", [d, c.FreqDim]),
            new("time_embedding.0.bias", [d]),
            new("time_embedding.2.weight", [d, d]),
            new("time_embedding.2.bias", [d]),
            new("time_projection.1.weight", [6 * d, d]),
            new("time_projection.1.bias", [6 * d]),
        };
        for (int i = 0; i < c.NumLayers; i++)
        {
            string b = $"blocks.{i}.";
            list.Add(new(b + "modulation", [1, 6, d]));
            AddAttention(list, b + "self_attn.", d, c.QkNorm);
            if (c.CrossAttnNorm)
            {
                list.Add(new(b + "norm3.weight", [d]));
                list.Add(new(b + "norm3.bias", [d]));
            }
            AddAttention(list, b + "cross_attn.", d, c.QkNorm);
            list.Add(new(b + "ffn.0.weight", [f, d]));
            list.Add(new(b + "ffn.0.bias", [f]));
            list.Add(new(b + "ffn.2.weight", [d, f]));
            list.Add(new(b + "ffn.2.bias", [d]));
        }
        list.Add(new("head.modulation", [1, 2, d]));
        list.Add(new("head.head.weight", [c.OutDim * c.PatchVolume, d]));
        list.Add(new("head.head.bias", [c.OutDim * c.PatchVolume]));
        return list;
    }

    static void AddAttention(List<LayoutEntry> list, string prefix, long d, bool qkNorm)
    {
        foreach (string p in new[] { "q", "k", "v", "o" })
        {
            list.Add(new($"{prefix}{p}.weight", [d, d]));
            list.Add(new($"{prefix}{p}.bias", [d]));
        }
        if (!qkNorm) return;
        list.Add(new(prefix + "norm_q.weight", [d]));
        list.Add(new(prefix + "norm_k.weight", [d]));
    }

    /// <summary>The Linear weights inside blocks (attention q/k/v/o and FFN): W8A8 quantizes exactly these.</summary>
    public static bool IsBlockLinearWeight(string canonicalName) =>
        canonicalName.StartsWith("blocks.", StringComparison.Ordinal)
        && canonicalName.EndsWith(".weight", StringComparison.Ordinal)
        && (canonicalName.Contains("_attn.q.") || canonicalName.Contains("_attn.k.")
            || canonicalName.Contains("_attn.v.") || canonicalName.Contains("_attn.o.")
            || canonicalName.Contains(".ffn.0.") || canonicalName.Contains(".ffn.2."));

    /// <summary>Norm weights (initialised around 1 in synthetic checkpoints).</summary>
    public static bool IsNormWeight(string canonicalName) =>
        canonicalName.EndsWith("norm_q.weight", StringComparison.Ordinal)
        || canonicalName.EndsWith("norm_k.weight", StringComparison.Ordinal)
        || canonicalName.EndsWith("norm3.weight", StringComparison.Ordinal);

    /// <summary>The AdaLN modulation tables (blocks.i.modulation, head.modulation).</summary>
    public static bool IsModulation(string canonicalName) => canonicalName.EndsWith("modulation", StringComparison.Ordinal);
}
