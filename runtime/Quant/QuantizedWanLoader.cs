using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Runtime.Quant;

/// <summary>
/// Builds a Wan DiT from a checkpoint in canonical names whose Linear layers may be stored quantized
/// (<see cref="QuantizedTensorNames"/>): those layers get a quantized kernel (<see cref="LinearKernels.For"/>: the CUDA
/// INT8 kernels on a GPU with the native library, else the reference <see cref="QuantizedLinear"/>), everything else
/// loads as usual. Every quantized layer's tensors are checked (dtype, shape) before the first read.
/// </summary>
public static class QuantizedWanLoader
{
    /// <param name="tensors">the checkpoint's header entries, by canonical name</param>
    /// <param name="read">reads a tensor by canonical name (CPU)</param>
    /// <param name="source">names the checkpoint in messages</param>
    public static WanModel Load(WanConfig config, IReadOnlyList<TensorInfo> tensors, Func<string, Tensor> read, string source,
        ScalarType computeDtype = ScalarType.Float32, Device? device = null)
    {
        var infos = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var model = new WanModel(config, computeDtype, device);
        try
        {
            var quantized = WanLinears.Of(model)
                .Select(l => (l.Name, l.Linear, Format: FormatOf(l.Name, l.Linear, infos, source)))
                .Where(l => l.Format is not null).ToList();
            foreach (var (name, linear, format) in quantized)
            {
                var weight = ReadWeight(name, format!.Value, infos, read, source);
                linear.UseKernel(LinearKernels.For(weight.MovedTo(model.Device)));
            }
            model.LoadWeights(name => infos.TryGetValue(name, out var info) ? info.Shape : null, read, source);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The layer's stored format, or null when it is stored as a float weight.</summary>
    static QuantFormat? FormatOf(string layer, WanLinear linear, Dictionary<string, TensorInfo> infos, string source)
    {
        string weightName = QuantizedTensorNames.Weight(layer), scaleName = QuantizedTensorNames.Scale(layer);
        bool hasScale = infos.TryGetValue(scaleName, out var scale);
        if (!infos.TryGetValue(weightName, out var weight))
            return hasScale ? throw new TurboException($"{source}: tensor {scaleName} present but {weightName} is missing") : null;
        bool integerWeight = weight.DType is SafetensorsDType.I8 or SafetensorsDType.F8_E4M3;
        if (!hasScale)
            return integerWeight
                ? throw new TurboException($"{source}: tensor {weightName} is {weight.DType} but its scale {scaleName} is missing")
                : null;
        if (!integerWeight)
            throw new TurboException($"{source}: tensor {weightName} is {weight.DType}; a quantized weight (beside {scaleName}) must be I8 or F8_E4M3");
        long n = linear.OutFeatures, k = linear.InFeatures;
        if (!weight.Shape.SequenceEqual([n, k]))
            throw new TurboException($"{source}: tensor {weightName}: expected shape [{n}, {k}], found {QuantizedWeight.Shape(weight.Shape)}");
        var format = weight.DType == SafetensorsDType.F8_E4M3 ? QuantFormat.Fp8E4M3PerChannel
            : scale!.Shape.Length == 2 ? QuantFormat.Int8Block128 : QuantFormat.Int8PerChannel;
        var expectedScale = format.ScaleShape(n, k);
        if (scale!.DType != SafetensorsDType.F32 || !scale.Shape.SequenceEqual(expectedScale))
            throw new TurboException($"{source}: tensor {scaleName}: expected F32 {QuantizedWeight.Shape(expectedScale)} for {format.Id()}, found {scale.DType} {QuantizedWeight.Shape(scale.Shape)}");
        string smoothName = QuantizedTensorNames.Smooth(layer);
        if (infos.TryGetValue(smoothName, out var smooth) && (smooth.DType != SafetensorsDType.F32 || !smooth.Shape.SequenceEqual([k])))
            throw new TurboException($"{source}: tensor {smoothName}: expected F32 [{k}], found {smooth.DType} {QuantizedWeight.Shape(smooth.Shape)}");
        return format;
    }

    static QuantizedWeight ReadWeight(string layer, QuantFormat format, Dictionary<string, TensorInfo> infos,
        Func<string, Tensor> read, string source)
    {
        var values = read(QuantizedTensorNames.Weight(layer));
        var scale = read(QuantizedTensorNames.Scale(layer));
        var smooth = infos.ContainsKey(QuantizedTensorNames.Smooth(layer)) ? read(QuantizedTensorNames.Smooth(layer)) : null;
        try
        {
            return QuantizedWeight.Create(format, values, scale, smooth, $"{source}: layer {layer}");
        }
        catch
        {
            values.Dispose();
            scale.Dispose();
            smooth?.Dispose();
            throw;
        }
    }
}
