using static TorchSharp.torch;

namespace Turbo.Runtime.Quant;

/// <summary>
/// W8A8 (or FP8) Linear, reference path: the input, in float32, is divided by the smoothing factors (if any),
/// quantized per token on the fly, multiplied exactly with the quantized weight (<see cref="ReferenceGemm"/>), and
/// rescaled in float32 with the bias added; the result takes the bias's dtype (the model's compute dtype).
/// </summary>
public sealed class QuantizedLinear(QuantizedWeight weight) : ILinearKernel
{
    public QuantizedWeight Weight { get; } = weight;
    public long InFeatures => Weight.InFeatures;
    public long OutFeatures => Weight.OutFeatures;
    public string Description => $"{Weight.Format.Id()}{(Weight.Smooth is null ? "" : " smoothed")} (reference)";

    public Tensor Forward(Tensor input, Tensor bias)
    {
        Weight.CheckCall(input, bias);
        using var rows = input.reshape(-1, InFeatures);
        using var output = Product(rows, Weight, bias, bias.dtype);
        return output.reshape([.. input.shape[..^1], OutFeatures]);
    }

    /// <summary>rows [M, K] → rows·Wᵀ (+ bias) [M, N] in <paramref name="outputDtype"/>, through quantized activations.</summary>
    public static Tensor Product(Tensor rows, QuantizedWeight weight, Tensor? bias, ScalarType outputDtype)
    {
        if (rows.device_type != weight.Device.type)
            throw new TurboException($"quantized linear: input on {rows.device} but the weight on {weight.Device}");
        using var quantized = QuantizeInput(rows, weight);
        return ReferenceGemm.Compute(quantized, weight, bias, outputDtype);
    }

    /// <summary>The layer's input quantization: rows [M, K] in float32, divided by the smoothing factors (if any), per token.</summary>
    public static QuantizedActivation QuantizeInput(Tensor rows, QuantizedWeight weight)
    {
        using var scope = NewDisposeScope();
        var x = rows.to(ScalarType.Float32);
        if (weight.Smooth is not null) x = x / weight.Smooth;
        var quantized = ActivationQuantizer.PerToken(x, weight.Format);
        quantized.Values.MoveToOuterDisposeScope();
        quantized.Scale.MoveToOuterDisposeScope();
        return quantized;
    }

    public void Dispose() => Weight.Dispose();
}
