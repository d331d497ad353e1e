using Turbo.CalibrationData.Shapes;
using Turbo.Distiller.Training;
using static TorchSharp.torch;

namespace Turbo.CalibrationData.Teacher;

/// <summary>VAE training data: batch n is training-split clips n·B … n·B + B − 1 (never a held-out combination).</summary>
public sealed class ShapesClipBatches(ShapesDataset dataset) : IClipBatches
{
    public Tensor Batch(long step, int batchSize) => dataset.Batch(ShapesSplit.Train, step * batchSize, batchSize).Videos;
}
