using System.Globalization;
using Turbo.Converter.Pipelines;
using Turbo.Quantizer.Calibration;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Runtime.Text;
using static TorchSharp.torch;

namespace Turbo.Converter.Conversion;

/// <summary>
/// Calibration inputs as the pipeline makes them: each prompt encoded by the teacher's own text encoder (zero past
/// its tokens, as Wan pads), the empty prompt as the negative context for CFG, and seeded Gaussian noise of the
/// latent shape of the clips the model generates. Sample i is prompt i with the noise of seed (seed, i).
/// </summary>
public sealed class PromptCalibrationSource : ICalibrationSource, IDisposable
{
    readonly IReadOnlyList<string> _prompts;
    readonly Tensor _contexts, _negative;
    readonly long[] _latent;
    readonly ulong _seed;

    /// <param name="teacher">the diffusers-layout folder whose tokenizer and text encoder encode the prompts</param>
    public PromptCalibrationSource(string teacher, IReadOnlyList<string> prompts, WanConfig transformer, VideoLatent latent, ulong seed)
    {
        if (prompts.Count == 0) throw new TurboException("calibration: no prompts");
        var tokenizer = WordTokenizer.Load(Path.Combine(teacher, "tokenizer", WanTextToVideo.TokenizerFile));
        using var encoder = Umt5Encoder.FromCheckpoint(Path.Combine(teacher, "text_encoder"), ScalarType.Float32, CPU);
        encoder.eval();
        if (encoder.Config.DModel != transformer.TextDim)
            throw new TurboException($"{teacher}: the text encoder gives {encoder.Config.DModel} features, the transformer expects text_dim {transformer.TextDim}");
        _contexts = WanTextToVideo.EncodePrompts(tokenizer, encoder, prompts, transformer.TextLen);
        _negative = WanTextToVideo.EncodePrompts(tokenizer, encoder, [""], transformer.TextLen);
        _prompts = prompts;
        _latent = [1, transformer.InDim, .. latent.Shape];
        _seed = seed;
    }

    public int Count => _prompts.Count;

    public string Description => string.Create(CultureInfo.InvariantCulture,
        $"{Count} prompts through the teacher's text encoder (\"{_prompts[0]}\", …), negative: the empty prompt, noise [{string.Join(", ", _latent)}] seed {_seed}");

    public CalibrationSample Get(int index)
    {
        if (index < 0 || index >= Count) throw new ArgumentOutOfRangeException(nameof(index), $"sample {index} of {Count}");
        var noise = randn(_latent, generator: new Generator(_seed * 1_000_003UL + (ulong)index));
        return new CalibrationSample($"prompt-{index:D5}", noise, _contexts[index].unsqueeze(0).clone(), _negative.clone());
    }

    public void Dispose()
    {
        _contexts.Dispose();
        _negative.Dispose();
    }
}

/// <summary>The latent [frames, height, width] of clips of a size, through a VAE's compression.</summary>
public sealed record VideoLatent(long[] Shape)
{
    public static VideoLatent Of(Runtime.Packaging.VideoSettings video, string teacher)
    {
        string path = Path.Combine(teacher, "vae", "config.json");
        if (!File.Exists(path)) throw new TurboException($"{path}: missing (the VAE's config gives the latent size)");
        var vae = WanVaeConfig.FromJson(File.ReadAllText(path), path);
        int t = vae.TemporalCompression, s = vae.SpatialCompression;
        if ((video.Frames - 1) % t != 0 || video.Height % s != 0 || video.Width % s != 0)
            throw new TurboException($"video size {video.Frames}×{video.Height}×{video.Width}: frames must be 1 + {t}n and sides multiples of {s}");
        return new VideoLatent([1 + (video.Frames - 1) / t, video.Height / s, video.Width / s]);
    }
}
