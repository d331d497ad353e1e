using Turbo.CalibrationData.Teacher;
using Turbo.Converter.Pipelines;
using Turbo.Distiller.Training;
using Turbo.Runtime.Models;
using Turbo.Runtime.Text;
using static TorchSharp.torch;

namespace Turbo.Tests.Teacher;

/// <summary>A text-to-video model folder with the teacher's layout and micro sizes, random weights (seconds on a CPU).</summary>
static class MicroTeacher
{
    public static readonly SampleSettings Sampling = new(Frames: 5, Height: 16, Width: 16, Steps: 2, Guidance: 3.0, Shift: 3.0);

    public static WanVaeConfig Vae => new()
    {
        BaseDim = 8, ZDim = 4, DimMult = [1, 2], NumResBlocks = 1, TemperalDownsample = [true],
        LatentsMean = [0.1, -0.2, 0.0, 0.3], LatentsStd = [1.5, 0.5, 1.0, 2.0],
    };

    public static WanConfig Transformer => new()
    {
        Dim = 32, FfnDim = 64, NumHeads = 2, NumLayers = 2, InDim = 4, OutDim = 4, TextDim = 16, TextLen = 8, FreqDim = 16,
    };

    /// <summary>The micro teacher's sampling at a clip size the Shapes oracle judges (sides of at least 32).</summary>
    public static readonly SampleSettings ShapesSampling = Sampling with { Height = 32, Width = 32 };

    /// <summary>Writes the folder; returns the canonical DiT weights it holds (CPU copies, the caller disposes).</summary>
    /// <param name="vocabulary">the tokenizer's words (default: those of two captions)</param>
    public static Dictionary<string, Tensor> Write(string root, WanConfig? transformer = null, SampleSettings? sampling = null,
        IEnumerable<string>? vocabulary = null)
    {
        transformer ??= Transformer;
        var tokenizer = WordTokenizer.Build(vocabulary ?? ["a small red circle moves left over a dark blue background", "a big green square"]);
        PipelineFolder.WriteIndex(root, sampling ?? Sampling);
        PipelineFolder.WriteTokenizer(root, tokenizer);
        using (var encoder = new Umt5Encoder(new Umt5Config { VocabSize = tokenizer.VocabSize, DModel = Transformer.TextDim, DKv = 8, DFf = 32, NumLayers = 1, NumHeads = 2 }))
        {
            Initializers.Umt5(encoder, seed: 1);
            TeacherFolder.WriteTextEncoder(root, encoder);
        }
        using (var vae = new WanVae(Vae))
        {
            Initializers.Vae(vae, seed: 2);
            TeacherFolder.WriteVae(root, Vae, vae.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter));
        }
        using var dit = new WanModel(transformer);
        Initializers.Wan(dit, seed: 3);
        using (no_grad())
            foreach (var p in dit.parameters()) p.add_(randn(p.shape, generator: new Generator(4)) * 0.02); // a head that is not zero
        var weights = dit.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        TeacherFolder.WriteTransformer(root, transformer, weights);
        return weights;
    }
}
