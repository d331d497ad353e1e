using System.Globalization;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Quantizer.Calibration;

/// <summary>
/// Calibration inputs without prompts: Gaussian latent noise, and a context that is Gaussian for even samples
/// and all zeros (an empty prompt's stand-in) for odd ones. Sample i is drawn from its own seeded generator.
/// </summary>
public sealed class RandomCalibrationSource : ICalibrationSource
{
    readonly WanConfig _config;
    readonly long[] _latent;
    readonly int _contextRows;
    readonly ulong _seed;

    /// <param name="latentSize">latent frames, height, width (multiples of the patch size)</param>
    /// <param name="contextRows">rows of the text context (the pipeline pads prompts to text_len)</param>
    public RandomCalibrationSource(WanConfig config, int[] latentSize, int contextRows, int count, ulong seed)
    {
        if (latentSize.Length != 3)
            throw new TurboException($"calibration latent size: expected frames, height, width, found {latentSize.Length} numbers");
        string[] axes = ["frames", "height", "width"];
        for (int i = 0; i < 3; i++)
            if (latentSize[i] < 1 || latentSize[i] % config.PatchSize[i] != 0)
                throw new TurboException($"calibration latent {axes[i]} {latentSize[i]}: must be a positive multiple of the patch size {config.PatchSize[i]}");
        if (contextRows < 1) throw new TurboException($"calibration context length {contextRows}: must be at least 1");
        if (count < 1) throw new TurboException($"calibration samples {count}: must be at least 1");
        _config = config;
        _latent = [1, config.InDim, latentSize[0], latentSize[1], latentSize[2]];
        _contextRows = contextRows;
        _seed = seed;
        Count = count;
    }

    public int Count { get; }

    public string Description => string.Create(CultureInfo.InvariantCulture,
        $"random latents [{string.Join(", ", _latent)}], contexts [1, {_contextRows}, {_config.TextDim}] Gaussian (even samples) or zero (odd), seed {_seed}");

    public CalibrationSample Get(int index)
    {
        if (index < 0 || index >= Count) throw new ArgumentOutOfRangeException(nameof(index), $"sample {index} of {Count}");
        using var generator = new Generator(_seed * 1_000_003UL + (ulong)index);
        var noise = randn(_latent, generator: generator);
        var context = index % 2 == 0
            ? randn([1, _contextRows, _config.TextDim], generator: generator)
            : zeros(1, _contextRows, _config.TextDim);
        return new CalibrationSample($"random-{index:D5}", noise, context, NegativeContext: null);
    }
}
