using Turbo.CalibrationData.Prompts;
using Turbo.CalibrationData.Shapes;
using Turbo.Converter.Pipelines;
using Turbo.Runtime.Models;
using Turbo.Runtime.Text;

namespace Turbo.CalibrationData.Teacher;

/// <summary>
/// "tiny-wan-t2v", the bundled teacher: Wan2.1's three-part text-to-video architecture at a size that trains in
/// minutes on one GPU and samples on a laptop CPU. Clips are 33 frames of 64×64; the VAE compresses 4× in time and
/// space to 16 channels × 9 × 16 × 16, and the DiT's 1×2×2 patches make 576 tokens per clip — enough for attention
/// sparsity to mean something.
/// </summary>
public static class TeacherRecipe
{
    public const string Name = "tiny-wan-t2v";
    public const int TextLength = 16;

    public static ShapesOptions Clips => new(Frames: 33, Height: 64, Width: 64);

    public static WanVaeConfig Vae => new()
    {
        BaseDim = 32, ZDim = 16, DimMult = [1, 2, 4], NumResBlocks = 1, TemperalDownsample = [true, true],
    };

    /// <summary>A small UMT5, left at a fixed random init (seed <see cref="TextEncoderSeed"/>): the DiT learns to read it.</summary>
    public static Umt5Config TextEncoder(int vocabularySize) => new()
    {
        VocabSize = vocabularySize, DModel = 64, DKv = 16, DFf = 128, NumLayers = 2, NumHeads = 4,
        RelativeAttentionNumBuckets = 32, RelativeAttentionMaxDistance = 64,
    };

    public const long TextEncoderSeed = 11;

    /// <summary>A Wan2.1 DiT of ~10 M parameters with head_dim 64.</summary>
    public static WanConfig Transformer => new()
    {
        Dim = 256, FfnDim = 1024, NumHeads = 4, NumLayers = 8, InDim = 16, OutDim = 16, TextDim = 64, TextLen = TextLength,
        FreqDim = 256, PatchSize = [1, 2, 2],
    };

    /// <summary>The teacher's own sampler settings: 50 UniPC steps, CFG 5, flow shift 3.</summary>
    public static SampleSettings Sampling => new(Clips.Frames, Clips.Height, Clips.Width, Steps: 50, Guidance: 5.0, Shift: 3.0);

    /// <summary>The word-level tokenizer over the Shapes caption vocabulary.</summary>
    public static WordTokenizer Tokenizer() => WordTokenizer.Build(PromptSets.Vocabulary());
}
