using static TorchSharp.torch;

namespace Turbo.Runtime.Attention;

/// <summary>
/// Symmetric INT8 quantization per block of tokens: each block of <c>block</c> consecutive tokens (the last one may be
/// shorter) of one (batch, head) shares one scale absmax·(1/127), the float32 product with the float32 reciprocal
/// (exactly what the CUDA kernel computes; a division by 127 would differ from it in the last bit now and then);
/// codes are round-half-even(x · (1/scale)), the float32 product with the float32 reciprocal, in −127..127 — one
/// division per block instead of one per value in the CUDA kernel, which computes exactly this. An all-zero block gets
/// scale 1 (its codes are 0 either way), so no division by zero appears.
/// </summary>
public static class Int8BlockQuantizer
{
    const float InverseCodeMax = 1f / 127f;

    /// <summary>
    /// x [B, H, L, D] → codes [B, H, L, D] (float32 holding integers: a matmul of two such over D ≤
    /// <see cref="AttentionConfig.MaxQuantizedHeadDim"/> channels is exact, every partial sum an integer below 2²⁴) and
    /// scales [B, H, ⌈L/block⌉] float32.
    /// </summary>
    public static (Tensor Codes, Tensor Scales) Quantize(Tensor x, int block)
    {
        using var scope = NewDisposeScope();
        var (b, h, length, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
        long blocks = (length + block - 1) / block;
        var padded = nn.functional.pad(x.to(ScalarType.Float32), [0, 0, 0, blocks * block - length]);
        var grouped = padded.view(b, h, blocks, block, d);
        var absmax = grouped.abs().amax([3, 4]);
        var scales = where(absmax.gt(0), absmax * InverseCodeMax, ones_like(absmax));
        var codes = (grouped * scales.reciprocal().view(b, h, blocks, 1, 1)).round()
            .view(b, h, blocks * block, d).narrow(2, 0, length);
        return (codes.MoveToOuterDisposeScope(), scales.MoveToOuterDisposeScope());
    }
}
