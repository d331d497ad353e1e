using Turbo.CalibrationData.Shapes;
using Turbo.Distiller.Training;
using static TorchSharp.torch;

namespace Turbo.CalibrationData.Teacher;

/// <summary>
/// VAE training data: batch n is training-split clips n·B … n·B + B − 1 (never a held-out combination). The next
/// batch is drawn on the thread pool while the current one trains, so the GPU does not wait for the renderer.
/// </summary>
public sealed class ShapesClipBatches(ShapesDataset dataset) : IClipBatches
{
    Task<float[]>? _next;
    long _nextFirst = -1;
    int _nextCount;

    public Tensor Batch(long step, int batchSize)
    {
        long first = step * batchSize;
        float[] pixels = _next is not null && _nextFirst == first && _nextCount == batchSize ? _next.Result : Draw(first, batchSize);
        long following = first + batchSize;
        (_next, _nextFirst, _nextCount) = (Task.Run(() => Draw(following, batchSize)), following, batchSize);
        return tensor(pixels, dataset.BatchShape(batchSize));
    }

    float[] Draw(long first, int count) => dataset.Draw(ShapesSplit.Train, first, count).Pixels;
}
