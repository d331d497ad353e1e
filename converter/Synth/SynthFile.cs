using Turbo.Runtime.IO;

namespace Turbo.Converter.Synth;

/// <summary>Streams a synthetic layout into one .safetensors file, one tensor in memory at a time; the file appears only when complete.</summary>
public static class SynthFile
{
    /// <summary>What diffusers and transformers write into their weight files: tensors saved from PyTorch.</summary>
    public static readonly IReadOnlyDictionary<string, string> Metadata = new Dictionary<string, string> { ["format"] = "pt" };

    /// <param name="firstStream">see <see cref="SynthTensorSource"/></param>
    /// <param name="tensorWritten">called with each tensor's byte count as it is produced (for progress)</param>
    public static void Write(string path, IReadOnlyList<SynthTensor> tensors, ulong seed, ulong firstStream, Action<long>? tensorWritten)
    {
        using var source = new SynthTensorSource(tensors, seed, firstStream);
        using var writer = new SafetensorsWriter(path, tensors.Select(t => (t.Name, t.DType, t.Shape)), Metadata);
        for (int i = 0; i < tensors.Count; i++)
        {
            using var produced = source.Produce(i);
            tensorWritten?.Invoke(tensors[i].ByteCount);
            writer.Write(tensors[i].Name, produced);
        }
        writer.Commit();
    }
}
