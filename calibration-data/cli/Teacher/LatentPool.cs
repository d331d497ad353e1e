using Turbo.CalibrationData.Shapes;
using Turbo.Distiller.Training;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.CalibrationData.Teacher;

/// <summary>
/// DiT training data: a fixed pool of training-split clips, encoded once by the trained VAE (normalised posterior
/// means) together with their caption embeddings, kept on the training device. Batch n draws clips at random from
/// the pool with a generator seeded by n, so a resumed run sees the same batches.
/// </summary>
public sealed class LatentPool : ITrainingBatches, IDisposable
{
    readonly Tensor _latents, _contexts;
    readonly long _seed;

    public long Count => _latents.shape[0];

    LatentPool(Tensor latents, Tensor contexts, long seed) => (_latents, _contexts, _seed) = (latents, contexts, seed);

    /// <param name="encodePrompts">captions → embeddings [B, L, D] on the device</param>
    public static LatentPool Build(ShapesDataset dataset, WanVae vae, Func<IReadOnlyList<string>, Tensor> encodePrompts,
        int count, long seed, Action<int, int>? progress = null)
    {
        const int Chunk = 64;
        var latents = new List<Tensor>();
        var contexts = new List<Tensor>();
        using var noGrad = no_grad();
        using var pause = CollectionPause.Begin();
        try
        {
            for (int start = 0; start < count; start += Chunk)
            {
                using var scope = NewDisposeScope();
                int n = Math.Min(Chunk, count - start);
                var (videos, stated) = dataset.Batch(ShapesSplit.Train, start, n);
                var (mean, _) = vae.Encode(videos.to(vae.Device), wholeClip: true);
                latents.Add(vae.Normalize(mean).MoveToOuterDisposeScope());
                contexts.Add(encodePrompts(stated.Select(s => s.Caption).ToArray()).MoveToOuterDisposeScope());
                pause.Checkpoint();
                progress?.Invoke(start + n, count);
            }
            return new LatentPool(cat(latents, 0), cat(contexts, 0), seed);
        }
        finally
        {
            foreach (var t in latents.Concat(contexts)) t.Dispose();
        }
    }

    /// <summary>
    /// Writes the pool to <paramref name="path"/> (temporary file, then renamed), so that a resumed run reads it
    /// instead of encoding again; <paramref name="builtFrom"/> names what it was encoded from.
    /// </summary>
    public void Save(string path, string builtFrom) => SafetensorsWriter.Save(path,
        new Dictionary<string, Tensor> { [LatentsName] = _latents, [ContextsName] = _contexts },
        new Dictionary<string, string> { [BuiltFromKey] = builtFrom });

    /// <returns>the pool saved at <paramref name="path"/> if it was built from <paramref name="builtFrom"/>; null if
    /// there is none, it was built from something else, or the file is damaged (the caller encodes again)</returns>
    public static LatentPool? Load(string path, string builtFrom, long seed, Device device, Action<string> log)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var file = SafetensorsFile.Open(path);
            if (!file.Metadata.TryGetValue(BuiltFromKey, out var saved) || saved != builtFrom)
            {
                log($"latent pool: {path} was built from other data or models; encoding again");
                return null;
            }
            using var latents = file.Read(LatentsName);
            using var contexts = file.Read(ContextsName);
            if (latents.dim() != 5 || contexts.dim() != 3 || latents.dtype != ScalarType.Float32 || contexts.dtype != ScalarType.Float32
                || latents.shape[0] != contexts.shape[0])
                throw new TurboException($"{path}: expected float32 latents [N, C, T, H, W] and contexts [N, L, D], found "
                    + $"{latents.dtype} [{string.Join(", ", latents.shape)}] and {contexts.dtype} [{string.Join(", ", contexts.shape)}]");
            return new LatentPool(latents.to(device), contexts.to(device), seed);
        }
        catch (TurboException e)
        {
            log($"latent pool: {e.Message}; encoding again");
            return null;
        }
    }

    const string LatentsName = "latents", ContextsName = "contexts", BuiltFromKey = "built_from";

    public (Tensor Latents, Tensor Context) Batch(long step, int batchSize)
    {
        var index = randint(Count, [batchSize], generator: new Generator((ulong)(_seed * 7_919 + step))).to(_latents.device);
        return (_latents.index_select(0, index), _contexts.index_select(0, index));
    }

    public void Dispose()
    {
        _latents.Dispose();
        _contexts.Dispose();
    }
}
