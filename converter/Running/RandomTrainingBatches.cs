using Turbo.Distiller.Training;
using static TorchSharp.torch;

namespace Turbo.Converter.Running;

/// <summary>
/// Training batches of standard-normal latents and prompt embeddings, made on the CPU as teacher samples are read
/// (batch n from a generator seeded by n). For timing and memory, which depend on shapes, not values.
/// </summary>
/// <param name="latentShape">one sample's latent [C, F, H, W]</param>
/// <param name="contextShape">one prompt's embedding [L, TextDim]</param>
public sealed class RandomTrainingBatches(long[] latentShape, long[] contextShape) : ITrainingBatches
{
    public (Tensor Latents, Tensor Context) Batch(long step, int batchSize)
    {
        using var generator = new Generator((ulong)step);
        return (randn([batchSize, .. latentShape], generator: generator), randn([batchSize, .. contextShape], generator: generator));
    }
}
