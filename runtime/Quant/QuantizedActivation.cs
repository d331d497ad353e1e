using static TorchSharp.torch;

namespace Turbo.Runtime.Quant;

/// <summary>
/// Activations [M, K] quantized per token (row): Values·Scale[m] ≈ x. Values are Int8 for the INT8 formats, and
/// float32 tensors holding e4m3 values for FP8 (the reference has no use for the codes). Owns its tensors.
/// </summary>
public sealed class QuantizedActivation(QuantFormat format, Tensor values, Tensor scale) : IDisposable
{
    public QuantFormat Format { get; } = format;
    public Tensor Values { get; } = values;

    /// <summary>[M] float32.</summary>
    public Tensor Scale { get; } = scale;

    public void Dispose()
    {
        Values.Dispose();
        Scale.Dispose();
    }
}

/// <summary>
/// Dynamic per-token activation quantization, computed afresh on every call: scale[m] = absmax(x[m, :])/127 (INT8)
/// or /448 (FP8), float32; q = round(x·(1/scale)) half to even (torch.round), clamped to ±127, or rounded to e4m3 —
/// the float32 product with the float32 reciprocal, as the CUDA kernels compute it (one division a row, not one a
/// value). An all-zero row gets scale 1.
/// </summary>
public static class ActivationQuantizer
{
    /// <param name="x">[M, K] float32</param>
    public static QuantizedActivation PerToken(Tensor x, QuantFormat format)
    {
        if (x.dim() != 2 || x.dtype != ScalarType.Float32)
            throw new TurboException($"activation quantization: expected a 2-D Float32 tensor, found {x.dtype} {QuantizedWeight.Shape(x.shape)}");
        using var scope = NewDisposeScope();
        var absMax = x.abs().amax([1L]);
        var scale = format.ScalesFromAbsMax(absMax);
        var scaled = x * scale.reciprocal().unsqueeze(1);
        var values = format.IsInt8() ? scaled.round().clamp(-127, 127).to(ScalarType.Int8) : Fp8E4M3.Round(scaled);
        return new QuantizedActivation(format, values.MoveToOuterDisposeScope(), scale.MoveToOuterDisposeScope());
    }
}
