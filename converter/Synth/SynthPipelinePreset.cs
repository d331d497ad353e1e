using Turbo.CalibrationData.Prompts;
using Turbo.Converter.Pipelines;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Runtime.Text;

namespace Turbo.Converter.Synth;

/// <summary>
/// The parts of a synthetic text-to-video folder beside the DiT of a <see cref="SynthPreset"/>: the tokenizer, the
/// text encoder, the VAE and the sampling defaults.
///
/// The text encoder is a speed-only stand-in: a UMT5 as wide as the DiT's text_dim (4096 for Wan2.1, UMT5-XXL's
/// width) but of 2 narrow layers, where UMT5-XXL has 24 layers of 64 heads and a 10240-wide feed-forward. Real
/// UMT5-XXL is not synthesized here, so prompt encoding costs far less than in Wan2.1. The VAE of the released sizes
/// is Wan2.1's own (config and latent statistics), so decoding costs what it costs in Wan2.1.
/// </summary>
public sealed record SynthPipelinePreset(WordTokenizer Tokenizer, Umt5Config TextEncoder, WanVaeConfig Vae, SampleSettings Sampling)
{
    /// <summary>Wan2.1 T2V's sampler (diffusers' WanPipeline): 50 UniPC steps, CFG 5; the flow shift depends on the size.</summary>
    const int WanSteps = 50;
    const double WanGuidance = 5.0;

    /// <param name="transformer">the DiT the text encoder feeds (its text_dim is the encoder's width)</param>
    public static SynthPipelinePreset Get(string preset, WanConfig transformer)
    {
        // The Shapes captions' words: the bundled calibration prompts encode without unknown words.
        var tokenizer = WordTokenizer.Build(PromptSets.Vocabulary());
        return preset switch
        {
            // Wan2.1's VAE compression (4× time, 8× space, 16 channels) at a sixth of its width with one residual block
            // per stage, and a clip of 3 latent frames: a whole generation takes seconds on a CPU.
            "tiny" => new(tokenizer, StandInTextEncoder(transformer.TextDim, tokenizer.VocabSize, heads: 2, dKv: 24, dFf: 96),
                WithWan21Statistics(new WanVaeConfig { BaseDim = 16, NumResBlocks = 1 }),
                new SampleSettings(Frames: 9, Height: 64, Width: 64, WanSteps, WanGuidance, Shift: 3.0)),
            // diffusers' Wan2.1 pipelines sample 480p with flow shift 3.0 and 720p with 5.0
            "1.3b" => Released(tokenizer, transformer, new SampleSettings(Frames: 81, Height: 480, Width: 832, WanSteps, WanGuidance, Shift: 3.0)),
            "14b" => Released(tokenizer, transformer, new SampleSettings(Frames: 81, Height: 720, Width: 1280, WanSteps, WanGuidance, Shift: 5.0)),
            _ => throw new TurboException($"unknown preset '{preset}': expected {string.Join(", ", SynthPreset.Names)}"),
        };
    }

    static SynthPipelinePreset Released(WordTokenizer tokenizer, WanConfig transformer, SampleSettings sampling) =>
        new(tokenizer, StandInTextEncoder(transformer.TextDim, tokenizer.VocabSize, heads: 8, dKv: 64, dFf: 1024),
            WithWan21Statistics(WanVaeConfig.Wan21), sampling);

    /// <summary>Two UMT5 layers of the given width; relative attention as UMT5-XXL's (32 buckets, distance 128).</summary>
    static Umt5Config StandInTextEncoder(int width, int vocabSize, int heads, int dKv, int dFf) => new()
    {
        VocabSize = vocabSize, DModel = width, NumLayers = 2, NumHeads = heads, DKv = dKv, DFf = dFf,
    };

    /// <summary>Wan2.1's latent statistics spelled out in config.json, as diffusers' release of the VAE has them.</summary>
    static WanVaeConfig WithWan21Statistics(WanVaeConfig config) =>
        config with { LatentsMean = [.. WanVaeConfig.Wan21LatentsMean], LatentsStd = [.. WanVaeConfig.Wan21LatentsStd] };
}
