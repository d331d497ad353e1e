using static TorchSharp.torch;

namespace Turbo.Runtime.Models;

/// <summary>
/// Wan's 3D rotary position embedding. Each head's channels are split into three groups of interleaved pairs
/// (x[2j], x[2j+1]) rotated by the frame, row and column index of the token's patch. With c = headDim/2 pairs, the
/// groups hold c − 2⌊c/3⌋, ⌊c/3⌋, ⌊c/3⌋ pairs (22/21/21 for head_dim 128); each group has its own frequency ladder
/// θ^(−2j/d) with d = twice its pair count. Angles, cos and sin are computed in float64 (as upstream builds its table)
/// and the rotation itself runs in float32 (FusedOps.RmsNormRope, fused with the q/k RMSNorm).
/// </summary>
public static class WanRope
{
    const double Theta = 10000.0;

    public static (int Frames, int Rows, int Columns) PairsPerAxis(int headDim)
    {
        int c = headDim / 2;
        return (c - 2 * (c / 3), c / 3, c / 3);
    }

    /// <summary>
    /// cos and sin tables [F·H·W, headDim/2] (float32, or <paramref name="dtype"/>) for a patch grid, tokens in
    /// (f, h, w) row-major order.
    /// </summary>
    public static (Tensor Cos, Tensor Sin) Tables(long frames, long rows, long columns, int headDim, Device device,
        ScalarType dtype = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        var (pf, ph, pw) = PairsPerAxis(headDim);
        var f = AxisAngles(frames, pf, device).view(frames, 1, 1, pf).expand(frames, rows, columns, pf);
        var h = AxisAngles(rows, ph, device).view(1, rows, 1, ph).expand(frames, rows, columns, ph);
        var w = AxisAngles(columns, pw, device).view(1, 1, columns, pw).expand(frames, rows, columns, pw);
        var angles = cat([f, h, w], -1).reshape(frames * rows * columns, pf + ph + pw);
        var cos = angles.cos().to(dtype);
        var sin = angles.sin().to(dtype);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>Angles [positions, pairs] = position · θ^(−2j/(2·pairs)), float64.</summary>
    static Tensor AxisAngles(long positions, int pairs, Device device)
    {
        using var scope = NewDisposeScope();
        var pos = arange(positions, dtype: ScalarType.Float64, device: device);
        var exponent = arange(pairs, dtype: ScalarType.Float64, device: device) * (2.0 / (2 * pairs));
        var inverseFrequency = tensor(Theta, dtype: ScalarType.Float64, device: device).pow(-exponent);
        return outer(pos, inverseFrequency).MoveToOuterDisposeScope();
    }
}
