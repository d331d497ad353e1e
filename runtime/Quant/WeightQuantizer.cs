using static TorchSharp.torch;

namespace Turbo.Runtime.Quant;

/// <summary>
/// Offline weight quantization, symmetric: scale = absmax/127 (INT8) or absmax/448 (FP8) over each output channel
/// or each 128×128 block, q = round(w/scale) half to even, clamped to ±127 (INT8) or rounded to e4m3 (FP8).
/// All arithmetic is float32, the precision a GPU kernel reproduces. An all-zero channel or block gets scale 1.
/// </summary>
public static class WeightQuantizer
{
    /// <param name="weight">[N, K], any floating-point dtype</param>
    /// <param name="smooth">SmoothQuant factors [K] (positive): the weight is multiplied by them column-wise first</param>
    /// <param name="name">names the tensor in messages</param>
    public static QuantizedWeight Quantize(Tensor weight, QuantFormat format, Tensor? smooth = null, string name = "weight")
    {
        Validate(weight, smooth, name);
        using var scope = NewDisposeScope();
        var w = weight.to(ScalarType.Float32);
        Tensor? factors = smooth?.to(ScalarType.Float32, weight.device, copy: true);
        if (factors is not null) w = w * factors;

        long n = w.shape[0], k = w.shape[1];
        var absMax = format == QuantFormat.Int8Block128 ? BlockAbsMax(w) : w.abs().amax([1L]);
        var scale = format.ScalesFromAbsMax(absMax);
        var expanded = format == QuantFormat.Int8Block128
            ? scale.repeat_interleave(QuantFormats.BlockSize, 0).narrow(0, 0, n)
                .repeat_interleave(QuantFormats.BlockSize, 1).narrow(1, 0, k)
            : scale.unsqueeze(1);
        var scaled = w / expanded;
        var values = format.IsInt8() ? scaled.round().clamp(-127, 127).to(ScalarType.Int8) : Fp8E4M3.Encode(scaled);
        var result = QuantizedWeight.Create(format, values, scale.contiguous(), factors?.contiguous(), name);
        values.MoveToOuterDisposeScope();
        result.Scale.MoveToOuterDisposeScope();
        result.Smooth?.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>absmax of every 128×128 block, [⌈N/128⌉, ⌈K/128⌉]; edge blocks are zero-padded (zeros do not change a max of |w|).</summary>
    static Tensor BlockAbsMax(Tensor w)
    {
        const int b = QuantFormats.BlockSize;
        long n = w.shape[0], k = w.shape[1], nb = QuantFormats.Blocks(n), kb = QuantFormats.Blocks(k);
        using var padded = nn.functional.pad(w.abs(), [0, kb * b - k, 0, nb * b - n]);
        using var blocks = padded.view(nb, b, kb, b);
        return blocks.amax([1L, 3L]);
    }

    static void Validate(Tensor weight, Tensor? smooth, string name)
    {
        if (weight.dim() != 2 || !weight.is_floating_point())
            throw new TurboException($"{name}: expected a 2-D floating-point weight [out, in], found {weight.dtype} {QuantizedWeight.Shape(weight.shape)}");
        if (weight.shape[0] < 1 || weight.shape[1] < 1 || weight.shape[1] > QuantFormats.MaxInFeatures)
            throw new TurboException($"{name}: weight {QuantizedWeight.Shape(weight.shape)} must have 1..{QuantFormats.MaxInFeatures} input features");
        using (var finite = weight.isfinite().all())
            if (!finite.item<bool>()) throw new TurboException($"{name}: weight holds NaN or infinite values");
        if (smooth is null) return;
        if (smooth.dim() != 1 || smooth.shape[0] != weight.shape[1] || !smooth.is_floating_point())
            throw new TurboException($"{name}: smoothing factors must be a floating-point [{weight.shape[1]}] vector, found {smooth.dtype} {QuantizedWeight.Shape(smooth.shape)}");
        using var positive = (smooth > 0).logical_and(smooth.isfinite()).all();
        if (!positive.item<bool>()) throw new TurboException($"{name}: smoothing factors must be positive and finite");
    }
}
