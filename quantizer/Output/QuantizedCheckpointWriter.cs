using Turbo.Runtime.IO;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Quantizer.Output;

/// <summary>
/// Writes a checkpoint in which the quantized layers' weights are replaced by their quantized tensors
/// (<see cref="QuantizedTensorNames"/>) and everything else is copied from the source as stored. Streams tensor by
/// tensor: one source tensor at a time is read, and the quantized tensors are the ones the model already holds.
/// One file up to <c>maxShardBytes</c>, else shards plus an index (the Hugging Face layout).
/// </summary>
public static class QuantizedCheckpointWriter
{
    public const string Stem = "diffusion_pytorch_model";

    /// <param name="source">the source tensors (canonical names), in the order to write</param>
    /// <param name="read">reads a source tensor (CPU, stored dtype)</param>
    /// <param name="quantized">layer name → its quantized weight</param>
    /// <param name="written">called with each tensor's byte count once written</param>
    /// <returns>the files written</returns>
    public static IReadOnlyList<string> Write(string folder, IReadOnlyList<TensorInfo> source, Func<string, Tensor> read,
        IReadOnlyDictionary<string, QuantizedWeight> quantized, long maxShardBytes, IReadOnlyDictionary<string, string> metadata,
        Action<long>? written = null)
    {
        var produce = new Dictionary<string, (Func<Tensor> Make, long Bytes)>(StringComparer.Ordinal);
        var layout = new List<(string Name, SafetensorsDType DType, long[] Shape)>();
        var weightOwner = quantized.ToDictionary(q => QuantizedTensorNames.Weight(q.Key), q => q.Key, StringComparer.Ordinal);
        foreach (var info in source)
        {
            if (!weightOwner.TryGetValue(info.Name, out var layer))
            {
                Add(info.Name, info.DType, info.Shape, () => read(info.Name));
                continue;
            }
            var q = quantized[layer];
            Add(info.Name, q.ValuesDType, q.Values.shape, () => q.Values.cpu());
            Add(QuantizedTensorNames.Scale(layer), SafetensorsDType.F32, q.Scale.shape, () => q.Scale.cpu());
            if (q.Smooth is { } smooth) Add(QuantizedTensorNames.Smooth(layer), SafetensorsDType.F32, smooth.shape, () => smooth.cpu());
        }
        var missing = weightOwner.Keys.Where(name => !source.Any(s => s.Name == name)).ToList();
        if (missing.Count > 0) throw new Runtime.TurboException($"{folder}: quantized layer weight {missing[0]} is not in the source checkpoint");

        Directory.CreateDirectory(folder);
        long total = produce.Values.Sum(p => p.Bytes);
        Tensor Produce(string name)
        {
            var (make, bytes) = produce[name];
            var tensor = make();
            written?.Invoke(bytes);
            return tensor;
        }
        if (total > maxShardBytes)
            return ShardedCheckpointWriter.Write(folder, Stem, layout, Produce, maxShardBytes, metadata);

        string path = Path.Combine(folder, Stem + ".safetensors");
        using (var writer = new SafetensorsWriter(path, layout, metadata))
        {
            foreach (var (name, _, _) in layout)
            {
                using var scope = NewDisposeScope();
                writer.Write(name, Produce(name));
            }
            writer.Commit();
        }
        return [path];

        void Add(string name, SafetensorsDType dtype, long[] shape, Func<Tensor> make)
        {
            layout.Add((name, dtype, shape));
            produce.Add(name, (make, shape.Aggregate(1L, (a, b) => a * b) * dtype.ByteSize()));
        }
    }
}
