using static TorchSharp.torch;

namespace Turbo.Quantizer.Calibration;

/// <summary>
/// One calibration input: the starting noise of a sampling run and the text embeddings it is conditioned on.
/// Owns its tensors.
/// </summary>
/// <param name="Id">stable name, recorded with the statistics</param>
/// <param name="Noise">[1, C, F, H, W] float32</param>
/// <param name="Context">[1, L, TextDim] float32</param>
/// <param name="NegativeContext">[1, L', TextDim] for classifier-free guidance, or null (zeros are used)</param>
public sealed record CalibrationSample(string Id, Tensor Noise, Tensor Context, Tensor? NegativeContext) : IDisposable
{
    public void Dispose()
    {
        Noise.Dispose();
        Context.Dispose();
        NegativeContext?.Dispose();
    }
}

/// <summary>
/// Where calibration inputs come from: random latents with random or empty contexts now; prompt sets with cached
/// text embeddings plug in behind the same interface. Sample i must be the same every time it is asked for, so
/// that an interrupted calibration resumes where it stopped.
/// </summary>
public interface ICalibrationSource
{
    /// <summary>Identifies the source and its settings; part of the calibration fingerprint.</summary>
    string Description { get; }

    /// <summary>Number of samples available.</summary>
    int Count { get; }

    /// <summary>Sample <paramref name="index"/> (0 ≤ index &lt; Count); the caller disposes it.</summary>
    CalibrationSample Get(int index);
}
