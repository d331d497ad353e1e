using static TorchSharp.torch;

namespace Turbo.Runtime.Attention;

/// <summary>
/// How a model's self-attention is computed. <see cref="TopK"/>, <see cref="BlockQ"/> and <see cref="BlockK"/> matter
/// for the block-based kinds: Sage quantizes q and k per block of BlockQ / BlockK tokens; SLA and SageSLA also select
/// key blocks with them (SageSLA quantizes with the same blocks it selects, as upstream does).
/// The defaults are TurboDiffusion's — top-k 0.1 (90% block sparsity), BLKQ 128, BLKK 64 — except P·V, which is BF16
/// rather than FP8 (<see cref="PvPrecision.Bf16"/>: faster on Hopper and closer to exact attention).
/// </summary>
public sealed record AttentionConfig
{
    public AttentionKind Kind { get; init; } = AttentionKind.Dense;

    /// <summary>Fraction of key blocks each query block keeps (SLA, SageSLA); see <see cref="BlockSelection.KeptBlocks"/>.</summary>
    public double TopK { get; init; } = 0.1;

    /// <summary>Query block size in tokens.</summary>
    public int BlockQ { get; init; } = 128;

    /// <summary>Key block size in tokens.</summary>
    public int BlockK { get; init; } = 64;

    /// <summary>P·V precision of the quantized kinds (Sage, SageSLA).</summary>
    public PvPrecision PvPrecision { get; init; } = PvPrecision.Bf16;

    public static AttentionConfig Dense => new();

    /// <summary>Largest head dim of the quantized kinds: the kernels handle 64 and 128, smaller ones zero-padded.</summary>
    public const int MaxQuantizedHeadDim = 128;

    [System.Text.Json.Serialization.JsonIgnore] public bool IsQuantized => Kind is AttentionKind.Sage or AttentionKind.SageSla;
    [System.Text.Json.Serialization.JsonIgnore] public bool IsSparseLinear => Kind is AttentionKind.Sla or AttentionKind.SageSla;

    /// <summary>Throws a <see cref="TurboException"/> naming the first setting that cannot work with this head dim.</summary>
    public void Validate(int headDim)
    {
        if (!Enum.IsDefined(Kind))
            throw new TurboException($"attention config: unknown kind {(int)Kind} (expected Dense, Sage, Sla or SageSla)");
        if (headDim < 1)
            throw new TurboException($"attention config: head dim {headDim} must be positive");
        if (Kind == AttentionKind.Dense) return;

        if (IsQuantized)
        {
            if (headDim > MaxQuantizedHeadDim)
                throw new TurboException(
                    $"attention config: {Kind} supports head dim up to {MaxQuantizedHeadDim} (64 and 128 natively), found {headDim}");
            if (!Enum.IsDefined(PvPrecision))
                throw new TurboException($"attention config: unknown P·V precision {(int)PvPrecision} (expected {PvPrecisions})");
            CheckBlocks(Kind.ToString(), BlockQ, BlockK, QuantizedBlocks);
        }
        else CheckBlocks(Kind.ToString(), BlockQ, BlockK, SparseBlocks);

        if (IsSparseLinear && !(TopK > 0 && TopK <= 1))
            throw new TurboException($"attention config: {Kind} top-k ratio {TopK} must be in (0, 1]");
    }

    /// <summary>The backend for self-attention with this head dim (validated first).</summary>
    public IAttentionBackend CreateBackend(int headDim, Device? device = null)
    {
        Validate(headDim);
        return Kind switch
        {
            AttentionKind.Dense => new DenseAttention(),
            AttentionKind.Sage => new NativeSageAttention(BlockQ, BlockK, PvPrecision),
            _ => new SparseLinearAttention(headDim, this, device),
        };
    }

    /// <summary>The P·V precisions by name, for messages.</summary>
    internal static string PvPrecisions => string.Join(", ", Enum.GetNames<PvPrecision>());

    /// <summary>The quantized kernels exist for these tile sizes only (128×64 on sm80/89, 64×128 on sm90).</summary>
    internal static readonly int[] QuantizedBlocks = [64, 128];

    /// <summary>True when Sage and SageSLA can take these blocks (<see cref="QuantizedBlocks"/>).</summary>
    public static bool AreQuantizedBlocks(int blockQ, int blockK) => QuantizedBlocks.Contains(blockQ) && QuantizedBlocks.Contains(blockK);

    /// <summary>Block-sparse kernels need power-of-two tiles of at least 16 tokens (one tensor-core fragment).</summary>
    internal static readonly int[] SparseBlocks = [16, 32, 64, 128, 256];

    internal static void CheckBlocks(string kind, int blockQ, int blockK, int[] allowed)
    {
        foreach (var (name, value) in new[] { ("BlockQ", blockQ), ("BlockK", blockK) })
            if (!allowed.Contains(value))
                throw new TurboException(
                    $"attention config: {kind} {name} {value} is not supported (expected one of {string.Join(", ", allowed)})");
    }
}
