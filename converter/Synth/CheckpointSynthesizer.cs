using Turbo.Converter.Families.Wan;
using Turbo.Converter.Files;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;

namespace Turbo.Converter.Synth;

/// <summary>What to synthesize.</summary>
public sealed record SynthRequest(WanConfig Config, WanNaming Naming, SafetensorsDType DType, int Shards, ulong Seed, string OutputDir);

/// <summary>What was written.</summary>
public sealed record SynthResult(IReadOnlyList<string> Files, int TensorCount, long Parameters, long Bytes);

/// <summary>
/// Writes a random Wan2.1 checkpoint with the exact layout of a real one (names, shapes, file names, config.json),
/// tensor by tensor, so even a 57 GB 14B checkpoint needs only its largest tensor in memory.
/// </summary>
public static class CheckpointSynthesizer
{
    /// <summary>diffusers' weight file stem (constants.py), used by both the original and the diffusers releases.</summary>
    public const string Stem = "diffusion_pytorch_model";

    /// <param name="tensorWritten">Called with each tensor's byte count as it is produced (for progress).</param>
    public static SynthResult Write(SynthRequest request, Action<long>? tensorWritten = null)
    {
        if (request.Shards < 1) throw new TurboException($"--shards {request.Shards}: expected at least 1");
        PrepareEmptyFolder(request.OutputDir);
        var tensors = SynthLayout.For(request.Config, request.Naming, request.DType);
        var files = new List<string>();
        if (request.Shards == 1)
        {
            string path = Path.Combine(request.OutputDir, Stem + ".safetensors");
            SynthFile.Write(path, tensors, request.Seed, firstStream: 0, tensorWritten);
            files.Add(path);
        }
        else
        {
            var indexOf = tensors.Select((t, i) => (t.Name, i)).ToDictionary(p => p.Name, p => p.i, StringComparer.Ordinal);
            using var source = new SynthTensorSource(tensors, request.Seed);

            TorchSharp.torch.Tensor Produce(string name)
            {
                int i = indexOf[name];
                var produced = source.Produce(i);
                tensorWritten?.Invoke(tensors[i].ByteCount);
                return produced;
            }

            long maxShardBytes = ShardPlanner.MaxShardBytesFor(tensors.Select(t => t.ByteCount).ToArray(), request.Shards);
            var layout = tensors.Select(t => (t.Name, t.DType, t.Shape)).ToList();
            files.AddRange(ShardedCheckpointWriter.Write(request.OutputDir, Stem, layout, Produce, maxShardBytes, SynthFile.Metadata));
        }

        var format = request.Naming == WanNaming.Diffusers ? WanConfigFormat.Diffusers : WanConfigFormat.Original;
        string config = Path.Combine(request.OutputDir, "config.json");
        AtomicFile.WriteAllText(config, WanConfigJson.Write(request.Config, format));
        files.Add(config);
        return new SynthResult(files, tensors.Count, tensors.Sum(t => t.ElementCount), tensors.Sum(t => t.ByteCount));
    }

    static void PrepareEmptyFolder(string dir)
    {
        if (File.Exists(dir)) throw new TurboException($"{dir}: is a file; synth writes a checkpoint folder");
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
            throw new TurboException($"{dir}: folder is not empty; synth writes a fresh checkpoint folder");
        Directory.CreateDirectory(dir);
    }
}
