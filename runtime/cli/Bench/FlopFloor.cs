using Turbo.Runtime.Models;

namespace Turbo.Cli.Bench;

/// <summary>
/// The work one Wan forward must do, and the least time it can take at the measured GEMM and SDPA rates.
/// Linears: 2·tokens·(6D² + 2·D·F) per layer on the video tokens (self q,k,v,o; cross q,o; FFN) plus the cross k,v
/// on the text rows; attention: 4·L²·D per layer for self-attention, 4·L·Ltext·D for cross-attention.
/// </summary>
public sealed record FlopFloor(double LinearTflop, double AttentionTflop, double? FloorMs)
{
    public static FlopFloor For(WanConfig c, long tokens, Ceilings? ceilings)
    {
        double d = c.Dim, f = c.FfnDim, layers = c.NumLayers, text = c.TextLen;
        double linear = layers * (2 * tokens * (6 * d * d + 2 * d * f) + 2 * text * 2 * d * d);
        double selfAttention = layers * 4.0 * tokens * tokens * d;
        double crossAttention = layers * 4.0 * tokens * text * d;
        double? floor = ceilings is null ? null
            : linear / (ceilings.BestGemmTflops * 1e9) + (selfAttention + crossAttention) / (ceilings.Sdpa.Tflops * 1e9);
        return new FlopFloor(linear / 1e12, (selfAttention + crossAttention) / 1e12, floor);
    }
}
