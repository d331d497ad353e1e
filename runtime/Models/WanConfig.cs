using Turbo.Runtime.Attention;

namespace Turbo.Runtime.Models;

/// <summary>
/// Canonical Wan2.1 DiT configuration (field meanings as in the original Wan2.1 release, see docs).
/// Every naming/format a checkpoint comes in is translated to this by the converter's family adapter.
/// </summary>
public sealed record WanConfig
{
    public int Dim { get; init; } = 1536;
    public int FfnDim { get; init; } = 8960;
    public int NumHeads { get; init; } = 12;
    public int NumLayers { get; init; } = 30;
    public int InDim { get; init; } = 16;
    public int OutDim { get; init; } = 16;
    public int TextDim { get; init; } = 4096;
    public int TextLen { get; init; } = 512;
    public int FreqDim { get; init; } = 256;
    public double Eps { get; init; } = 1e-6;
    public int[] PatchSize { get; init; } = [1, 2, 2];
    public bool QkNorm { get; init; } = true;
    public bool CrossAttnNorm { get; init; } = true;

    /// <summary>How self-attention is computed (dense unless a package says otherwise); SLA adds proj_l parameters.</summary>
    public AttentionConfig Attention { get; init; } = AttentionConfig.Dense;

    /// <summary>
    /// The self-attention of each block, when blocks differ (e.g. a package that keeps the first and last blocks
    /// dense); null = every block uses <see cref="Attention"/>. Must list every block.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<AttentionConfig>? BlockAttention { get; init; }

    /// <summary>The self-attention of block <paramref name="block"/>.</summary>
    public AttentionConfig AttentionOf(int block) => BlockAttention?[block] ?? Attention;

    [System.Text.Json.Serialization.JsonIgnore] public int HeadDim => Dim / NumHeads;
    [System.Text.Json.Serialization.JsonIgnore] public int PatchVolume => PatchSize[0] * PatchSize[1] * PatchSize[2];

    public static WanConfig T2V_1_3B => new();
    public static WanConfig T2V_14B => new() { Dim = 5120, FfnDim = 13824, NumHeads = 40, NumLayers = 40 };
}
