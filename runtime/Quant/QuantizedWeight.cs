using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Runtime.Quant;

/// <summary>
/// A quantized Linear weight W [N, K] in one of the <see cref="QuantFormat"/>s: the effective weight is
/// Values·Scale (scales broadcast per output channel or per 128×128 block) divided column-wise by Smooth.
/// Values: Int8 for the INT8 formats, e4m3 codes as Byte for FP8. Scale: float32, [N] or [⌈N/128⌉, ⌈K/128⌉].
/// Smooth: float32 [K] or null; the layer divides its input by it (SmoothQuant), the weight was multiplied by it.
/// Owns its tensors.
/// </summary>
public sealed class QuantizedWeight : IDisposable
{
    QuantizedWeight(QuantFormat format, Tensor values, Tensor scale, Tensor? smooth)
    {
        Format = format;
        Values = values;
        Scale = scale;
        Smooth = smooth;
    }

    public QuantFormat Format { get; }
    public Tensor Values { get; }
    public Tensor Scale { get; }
    public Tensor? Smooth { get; }
    public long OutFeatures => Values.shape[0];
    public long InFeatures => Values.shape[1];
    public Device Device => Values.device;

    /// <summary>
    /// Checks a layer call against this weight: a floating-point input [..., InFeatures] on the weight's device type and
    /// a bias [OutFeatures]; a mismatch is a <see cref="TurboException"/> naming what was expected.
    /// </summary>
    public void CheckCall(Tensor input, Tensor bias)
    {
        if (input.dim() < 1 || input.shape[^1] != InFeatures || !input.is_floating_point())
            throw new TurboException($"quantized linear: expected a floating-point input [..., {InFeatures}], found {input.dtype} {Shape(input.shape)}");
        if (input.device_type != Device.type)
            throw new TurboException($"quantized linear: input on {input.device} but the weight on {Device}");
        if (!bias.shape.SequenceEqual([OutFeatures]))
            throw new TurboException($"quantized linear: bias {Shape(bias.shape)} does not match the weight's {OutFeatures} output features");
    }

    /// <summary>Bytes the three tensors take (1 per weight value, 4 per scale and smoothing factor).</summary>
    public long ByteCount => Values.numel() + 4 * Scale.numel() + 4 * (Smooth?.numel() ?? 0);

    /// <summary>The dtype each tensor is stored with in a safetensors file.</summary>
    public SafetensorsDType ValuesDType => Format.IsInt8() ? SafetensorsDType.I8 : SafetensorsDType.F8_E4M3;

    /// <summary>
    /// Takes ownership of the tensors after checking that they form a weight of <paramref name="format"/>.
    /// <paramref name="source"/> names the layer in messages.
    /// </summary>
    public static QuantizedWeight Create(QuantFormat format, Tensor values, Tensor scale, Tensor? smooth, string source)
    {
        var valuesType = format.IsInt8() ? ScalarType.Int8 : ScalarType.Byte;
        if (values.dim() != 2 || values.dtype != valuesType)
            throw new TurboException($"{source}: quantized weight must be a 2-D {valuesType} tensor, found {values.dtype} {Shape(values.shape)}");
        long n = values.shape[0], k = values.shape[1];
        if (n < 1 || k < 1 || k > QuantFormats.MaxInFeatures)
            throw new TurboException($"{source}: weight {Shape(values.shape)} must have 1..{QuantFormats.MaxInFeatures} input features");
        var scaleShape = format.ScaleShape(n, k);
        if (scale.dtype != ScalarType.Float32 || !scale.shape.SequenceEqual(scaleShape))
            throw new TurboException($"{source}: weight scale must be Float32 {Shape(scaleShape)} for {format.Id()}, found {scale.dtype} {Shape(scale.shape)}");
        if (smooth is not null && (smooth.dtype != ScalarType.Float32 || !smooth.shape.SequenceEqual([k])))
            throw new TurboException($"{source}: smoothing factors must be Float32 [{k}], found {smooth.dtype} {Shape(smooth.shape)}");
        var devices = new[] { values, scale, smooth }.OfType<Tensor>().Select(t => t.device.ToString()).Distinct().ToList();
        if (devices.Count != 1)
            throw new TurboException($"{source}: quantized weight tensors are on different devices ({string.Join(", ", devices)})");
        if (!PositiveAndFinite(scale)) throw new TurboException($"{source}: weight scales must be positive and finite");
        if (smooth is not null && !PositiveAndFinite(smooth)) throw new TurboException($"{source}: smoothing factors must be positive and finite");
        return new QuantizedWeight(format, values, scale, smooth);
    }

    static bool PositiveAndFinite(Tensor t)
    {
        using var ok = (t > 0).logical_and(t.isfinite()).all();
        return ok.item<bool>();
    }

    /// <summary>The quantized values as numbers of <paramref name="dtype"/> (integers for INT8, e4m3 values for FP8).</summary>
    public Tensor ValuesAs(ScalarType dtype)
    {
        if (Format.IsInt8()) return Values.to(dtype);
        using var decoded = Fp8E4M3.Decode(Values);
        return decoded.to(dtype);
    }

    /// <summary>The scale of every weight element, [N, K] float32.</summary>
    public Tensor ScalePerElement()
    {
        if (Format != QuantFormat.Int8Block128) return Scale.unsqueeze(1).expand(OutFeatures, InFeatures).contiguous();
        using var scope = NewDisposeScope();
        var rows = Scale.repeat_interleave(QuantFormats.BlockSize, 0).narrow(0, 0, OutFeatures);
        return rows.repeat_interleave(QuantFormats.BlockSize, 1).narrow(1, 0, InFeatures).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The weight this stands for, float32 [N, K]: Values·Scale / Smooth.</summary>
    public Tensor Dequantize()
    {
        using var scope = NewDisposeScope();
        var weight = ValuesAs(ScalarType.Float32) * ScalePerElement();
        if (Smooth is not null) weight = weight / Smooth;
        return weight.MoveToOuterDisposeScope();
    }

    /// <summary>This weight on <paramref name="device"/>: itself when already there, else a copy, and this one is disposed.</summary>
    public QuantizedWeight MovedTo(Device device)
    {
        if (device.type == Device.type && (device.index < 0 || device.index == Device.index)) return this;
        var moved = new QuantizedWeight(Format, Values.to(device), Scale.to(device), Smooth?.to(device));
        Dispose();
        return moved;
    }

    public void Dispose()
    {
        Values.Dispose();
        Scale.Dispose();
        Smooth?.Dispose();
    }

    internal static string Shape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
