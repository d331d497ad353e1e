using Turbo.Distiller.Training;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Distiller.Data;

/// <summary>
/// A complete teacher-sample folder (<see cref="TeacherSampleStage"/>) as training data: batch n draws samples at
/// random with a generator seeded by n (so a resumed run sees the same batches), read from the memory-mapped shards
/// one sample at a time. Latents and embeddings come back on the CPU, float32.
/// </summary>
public sealed class TeacherSamples : ITrainingBatches, IDisposable
{
    public const string EmptyContextName = "context";

    readonly SafetensorsFile[] _shards;
    readonly int _shardSize;
    readonly long _seed;

    /// <summary>How many samples the folder holds.</summary>
    public int Count { get; }

    /// <summary>The empty prompt's embedding [1, L, TextDim] (the unconditional input of guidance).</summary>
    public Tensor EmptyContext { get; }

    public IReadOnlyList<string> Prompts { get; }

    TeacherSamples(SafetensorsFile[] shards, int shardSize, int count, Tensor emptyContext, IReadOnlyList<string> prompts, long seed) =>
        (_shards, _shardSize, Count, EmptyContext, Prompts, _seed) = (shards, shardSize, count, emptyContext, prompts, seed);

    public static string LatentsName(long index) => $"latents.{index}";
    public static string ContextName(long index) => $"context.{index}";

    /// <param name="seed">seeds the choice of samples for each batch</param>
    public static TeacherSamples Open(string folder, long seed = 0)
    {
        string manifestPath = Path.Combine(folder, TeacherSampleStage.ManifestFile);
        if (!File.Exists(manifestPath))
            throw new TurboException($"{folder}: no {TeacherSampleStage.ManifestFile} (expected a folder written by the teacher-sample stage)");
        var manifest = SampleManifest.Read(manifestPath);
        var prompts = File.ReadAllLines(Path.Combine(folder, TeacherSampleStage.PromptsFile));
        if (prompts.Length != manifest.Count)
            throw new TurboException($"{folder}: {TeacherSampleStage.PromptsFile} holds {prompts.Length} prompts, the manifest says {manifest.Count}");
        var shards = new List<SafetensorsFile>();
        try
        {
            for (int shard = 0; shard < manifest.Shards; shard++)
            {
                string path = Path.Combine(folder, TeacherSampleStage.ShardFile(shard));
                if (!File.Exists(path))
                    throw new TurboException($"{path}: missing; run the teacher-sample stage on {folder} to completion");
                var file = SafetensorsFile.Open(path);
                shards.Add(file);
                for (long i = (long)shard * manifest.ShardSize; i < Math.Min((long)(shard + 1) * manifest.ShardSize, manifest.Count); i++)
                    if (!file.Contains(LatentsName(i)) || !file.Contains(ContextName(i)))
                        throw new TurboException($"{path}: sample {i} is missing (expected tensors {LatentsName(i)} and {ContextName(i)})");
            }
            CheckShapes(shards, manifest);
            Tensor empty;
            using (var emptyFile = SafetensorsFile.Open(Path.Combine(folder, TeacherSampleStage.EmptyPromptFile)))
            {
                if (!emptyFile.Contains(EmptyContextName) || emptyFile.Info(EmptyContextName).Shape is not [1, _, _])
                    throw new TurboException($"{emptyFile.Path}: expected a tensor '{EmptyContextName}' [1, L, TextDim]");
                empty = emptyFile.Read(EmptyContextName).to(ScalarType.Float32);
            }
            return new TeacherSamples(shards.ToArray(), manifest.ShardSize, manifest.Count, empty, prompts, seed);
        }
        catch
        {
            foreach (var file in shards) file.Dispose();
            throw;
        }
    }

    /// <summary>Every sample must have the first one's latent and embedding shapes (a batch stacks them).</summary>
    static void CheckShapes(List<SafetensorsFile> shards, SampleManifest manifest)
    {
        long[] latentShape = shards[0].Info(LatentsName(0)).Shape, contextShape = shards[0].Info(ContextName(0)).Shape;
        if (latentShape.Length != 4 || contextShape.Length != 2)
            throw new TurboException($"{shards[0].Path}: expected latents [C, F, H, W] and embeddings [L, TextDim], found [{string.Join(", ", latentShape)}] and [{string.Join(", ", contextShape)}]");
        for (long i = 0; i < manifest.Count; i++)
        {
            var file = shards[(int)(i / manifest.ShardSize)];
            if (!file.Info(LatentsName(i)).Shape.SequenceEqual(latentShape) || !file.Info(ContextName(i)).Shape.SequenceEqual(contextShape))
                throw new TurboException($"{file.Path}: sample {i} is not shaped like sample 0 (latents [{string.Join(", ", latentShape)}], embeddings [{string.Join(", ", contextShape)}])");
        }
    }

    /// <summary>Sample <paramref name="index"/>: latents [C, F, H, W] and its prompt's embedding [L, TextDim].</summary>
    public (Tensor Latents, Tensor Context) Sample(long index)
    {
        if (index < 0 || index >= Count) throw new TurboException($"teacher samples: sample {index} is outside 0..{Count - 1}");
        var file = _shards[index / _shardSize];
        return (file.Read(LatentsName(index)).to(ScalarType.Float32), file.Read(ContextName(index)).to(ScalarType.Float32));
    }

    public (Tensor Latents, Tensor Context) Batch(long step, int batchSize)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)(_seed * 7_919 + step));
        var indices = randint(Count, [batchSize], generator: generator).data<long>().ToArray();
        var samples = indices.Select(Sample).ToArray();
        var latents = stack(samples.Select(s => s.Latents).ToArray());
        var contexts = stack(samples.Select(s => s.Context).ToArray());
        return (latents.MoveToOuterDisposeScope(), contexts.MoveToOuterDisposeScope());
    }

    public void Dispose()
    {
        foreach (var file in _shards) file.Dispose();
        EmptyContext.Dispose();
    }
}
