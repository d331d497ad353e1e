using Turbo.Runtime;
using Turbo.Runtime.Models;

namespace Turbo.Converter.Families.Wan;

/// <summary>Rejects configs the Wan2.1 model cannot be built from, before any shape is derived from them.</summary>
public static class WanConfigCheck
{
    public static void Validate(WanConfigSource source)
    {
        var c = source.Config;
        void Require(bool ok, string what)
        {
            if (!ok) throw new TurboException($"{source.Origin}: {what}");
        }
        foreach (var (name, value) in new[]
                 {
                     ("dim", c.Dim), ("ffn_dim", c.FfnDim), ("num_heads", c.NumHeads), ("num_layers", c.NumLayers),
                     ("in_dim", c.InDim), ("out_dim", c.OutDim), ("text_dim", c.TextDim), ("text_len", c.TextLen),
                     ("freq_dim", c.FreqDim),
                 })
            Require(value > 0, $"{name} is {value}, expected a positive integer");
        Require(c.PatchSize.Length == 3 && c.PatchSize.All(p => p > 0), $"patch_size is [{string.Join(", ", c.PatchSize)}], expected 3 positive integers");
        Require(c.Dim % c.NumHeads == 0, $"dim {c.Dim} is not divisible by num_heads {c.NumHeads}");
        // 3D RoPE splits each head into complex pairs over (frame, row, column): head_dim must be even and leave
        // every axis at least one pair.
        Require(c.HeadDim % 2 == 0 && c.HeadDim >= 6, $"head_dim {c.HeadDim} (dim / num_heads) must be even and at least 6 for 3D RoPE");
        Require(c.FreqDim % 2 == 0, $"freq_dim {c.FreqDim} must be even (sinusoidal cos/sin halves)");
        Require(c.Eps > 0 && double.IsFinite(c.Eps), $"eps is {c.Eps}, expected a small positive number");
    }
}
