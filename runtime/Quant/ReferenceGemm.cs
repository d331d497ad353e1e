using static TorchSharp.torch;

namespace Turbo.Runtime.Quant;

/// <summary>
/// The quantized matrix product, computed exactly: y[m, n] = acc[m, n]·sx[m]·sw[n] + bias[n], where acc is the
/// dot product of the quantized values. For the INT8 formats acc is what an INT32 accumulator holds (it cannot
/// overflow for K ≤ <see cref="QuantFormats.MaxInFeatures"/>); for FP8 it is the exact sum of the e4m3 products.
/// The dot products run as float matmuls that are exact here and exist on every device, unlike an int8 matmul, which
/// libtorch lacks on CUDA (it aborts the process): INT8 as float32 over slices of K no wider than
/// <see cref="ExactFloat32Width"/> (every partial sum an integer of magnitude ≤ 2²⁴; wider K adds the slices in
/// float64), e4m3 as float64 (every partial sum a multiple of 2⁻¹⁸ below 2³⁵).
///
/// Epilogue, float32, in this order: fp32(acc)·sx[m], then ·sw, then + bias, then cast to the output dtype. With
/// 128×128 weight blocks, each 128-wide slice of K is one INT32 accumulation, added into a float32 sum slice after
/// slice (k ascending): y += fp32(acc_b)·sx[m]·sw[n/128, b].
/// </summary>
public static class ReferenceGemm
{
    /// <summary>The widest slice of K whose INT8 dot products float32 holds exactly: 1,024 · 128² = 2²⁴.</summary>
    public const int ExactFloat32Width = 1024;

    /// <param name="x">per-token quantized activations [M, K]</param>
    /// <param name="w">quantized weight [N, K] (its smoothing was applied to x before quantization)</param>
    /// <param name="bias">[N] or null</param>
    public static Tensor Compute(QuantizedActivation x, QuantizedWeight w, Tensor? bias, ScalarType outputDtype)
    {
        if (x.Format != w.Format)
            throw new TurboException($"quantized GEMM: activations are {x.Format.Id()} but the weight is {w.Format.Id()}");
        if (x.Values.dim() != 2 || x.Values.shape[1] != w.InFeatures)
            throw new TurboException($"quantized GEMM: activations {QuantizedWeight.Shape(x.Values.shape)} do not match the weight's {w.InFeatures} input features");
        if (bias is not null && !bias.shape.SequenceEqual([w.OutFeatures]))
            throw new TurboException($"quantized GEMM: bias {QuantizedWeight.Shape(bias.shape)} does not match the weight's {w.OutFeatures} output features");

        using var scope = NewDisposeScope();
        var valueType = w.Format.IsInt8() ? ScalarType.Float32 : ScalarType.Float64;
        var xv = x.Values.to(valueType);
        var wv = w.ValuesAs(valueType);
        var tokenScale = x.Scale.unsqueeze(1);
        Tensor y;
        if (w.Format != QuantFormat.Int8Block128)
        {
            var acc = w.Format.IsInt8() ? Int8DotProducts(xv, wv) : xv.matmul(wv.t());
            y = acc.to(ScalarType.Float32) * tokenScale * w.Scale;
        }
        else
        {
            const int b = QuantFormats.BlockSize;
            long k = w.InFeatures, n = w.OutFeatures;
            y = zeros(x.Values.shape[0], n, dtype: ScalarType.Float32, device: xv.device);
            for (long block = 0; block * b < k; block++)
            {
                using var inner = NewDisposeScope();
                long start = block * b, width = Math.Min(b, k - start);
                var acc = xv.narrow(1, start, width).matmul(wv.narrow(1, start, width).t());
                var channelScale = w.Scale.select(1, block).repeat_interleave(b).narrow(0, 0, n);
                y.add_(acc.to(ScalarType.Float32) * tokenScale * channelScale);
            }
        }
        if (bias is not null) y = y + bias.to(ScalarType.Float32);
        return y.to(outputDtype).MoveToOuterDisposeScope();
    }

    /// <summary>x [M, K] · w [N, K]ᵀ of INT8 values held as float32, exactly: float32 within K ≤ 1,024, else float64 sums of slices.</summary>
    static Tensor Int8DotProducts(Tensor x, Tensor w)
    {
        long k = x.shape[1];
        if (k <= ExactFloat32Width) return x.matmul(w.t());
        using var scope = NewDisposeScope();
        Tensor? sum = null;
        for (long start = 0; start < k; start += ExactFloat32Width)
        {
            long width = Math.Min(ExactFloat32Width, k - start);
            var slice = x.narrow(1, start, width).matmul(w.narrow(1, start, width).t()).to(ScalarType.Float64);
            sum = sum is null ? slice : sum.add_(slice);
        }
        return sum!.MoveToOuterDisposeScope();
    }
}
