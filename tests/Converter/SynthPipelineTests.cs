using System.Text.Json;
using Turbo.Converter.Families.Wan;
using Turbo.Converter.Pipelines;
using Turbo.Converter.Synth;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Converter;

public class SynthPipelineTests : TempFolderFixture
{
    static SynthRequest Tiny(string output) =>
        new(SynthPreset.Tiny, WanNaming.Diffusers, SafetensorsDType.F32, Shards: 1, Seed: 7, output);

    static SynthPipelinePreset TinyParts => SynthPipelinePreset.Get("tiny", SynthPreset.Tiny);

    [Test]
    public void TheTinyPipelineLoadsAndGeneratesAClipOnTheCpu()
    {
        string folder = Temp.PathTo("tiny-t2v");
        var result = PipelineSynthesizer.Write(Tiny(folder), TinyParts);
        Assert.That(result.Files.Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/')), Is.EqualTo(new[]
        {
            "model_index.json", "scheduler/scheduler_config.json", "text_encoder/config.json", "text_encoder/model.safetensors",
            "tokenizer/vocab.json", "transformer/config.json", "transformer/diffusion_pytorch_model.safetensors",
            "vae/config.json", "vae/diffusion_pytorch_model.safetensors",
        }));

        using var pipeline = WanTextToVideo.Load(folder, CPU, ScalarType.Float32);
        Assert.That(pipeline.Defaults, Is.EqualTo(TinyParts.Sampling));
        Assert.That(pipeline.TextEncoder.Config.DModel, Is.EqualTo(SynthPreset.Tiny.TextDim));
        Assert.That(pipeline.Vae.Config.LatentsStd, Is.EqualTo(WanVaeConfig.Wan21LatentsStd));
        var quick = pipeline.Defaults with { Frames = 5, Height = 32, Width = 32, Steps = 2 };
        using var clip = pipeline.Generate(["a small red circle moves left"], seed: 1, quick);
        Assert.That(clip.shape, Is.EqualTo(new long[] { 1, 3, 5, 32, 32 }));
        Assert.That(clip.isfinite().all().item<bool>() && clip.abs().max().item<float>() <= 1f);
    }

    [Test]
    public void TheTransformerIsWhatPlainSynthWritesInDiffusersNaming()
    {
        string folder = Temp.PathTo("tiny-t2v"), plain = Temp.PathTo("plain");
        PipelineSynthesizer.Write(Tiny(folder), TinyParts);
        CheckpointSynthesizer.Write(Tiny(plain));
        foreach (string file in new[] { CheckpointSynthesizer.Stem + ".safetensors", "config.json" })
            Assert.That(File.ReadAllBytes(Path.Combine(folder, PipelineFolder.Transformer, file)), Is.EqualTo(File.ReadAllBytes(Path.Combine(plain, file))), file);
    }

    [Test]
    public void EveryWrittenTensorIsInTheLayoutWithItsShapeAndDtype()
    {
        string folder = Temp.PathTo("tiny-t2v");
        PipelineSynthesizer.Write(Tiny(folder) with { DType = SafetensorsDType.BF16 }, TinyParts);
        var layout = SynthPipelineLayout.For(TinyParts, SynthPreset.Tiny, SafetensorsDType.BF16);
        foreach (var (part, file, tensors) in new[]
        {
            (PipelineFolder.TextEncoder, PipelineFolder.TransformersWeights, layout.TextEncoder),
            (PipelineFolder.Vae, PipelineFolder.DiffusersWeights, layout.Vae),
            (PipelineFolder.Transformer, PipelineFolder.DiffusersWeights, layout.Transformer),
        })
        {
            using var written = SafetensorsFile.Open(Path.Combine(folder, part, file));
            Assert.That(written.Tensors.Select(t => (t.Name, t.DType, t.ShapeText)),
                Is.EqualTo(tensors.Select(t => (t.Name, t.DType, "[" + string.Join(", ", t.Shape) + "]"))), part);
        }
        Assert.That(layout.TextEncoder.Select(t => t.DType).Distinct(), Is.EqualTo(new[] { SafetensorsDType.BF16 }), "the text encoder follows --dtype");
        Assert.That(layout.Vae.Select(t => t.DType).Distinct(), Is.EqualTo(new[] { SafetensorsDType.F32 }), "the VAE is float32, as Wan2.1 runs it");
    }

    [TestCase("1.3b", 825, 1_418_996_800L, 81, 480, 832, 3.0)]
    [TestCase("14b", 1095, 14_288_491_584L, 81, 720, 1280, 5.0)]
    public void AReleasedSizeHasWan21sDitAndVaeAndAStandInAsWideAsItsTextDim(string preset, int ditTensors, long ditParameters,
        int frames, int height, int width, double shift)
    {
        var dit = SynthPreset.Get(preset, layers: null);
        var parts = SynthPipelinePreset.Get(preset, dit);
        var layout = SynthPipelineLayout.For(parts, dit, SafetensorsDType.BF16);

        Assert.That(layout.Transformer.Select(t => (t.Name, t.Shape)),
            Is.EqualTo(SynthLayout.For(dit, WanNaming.Diffusers, SafetensorsDType.BF16).Select(t => (t.Name, t.Shape))));
        Assert.That((layout.Transformer.Count, layout.Transformer.Sum(t => t.ElementCount)), Is.EqualTo((ditTensors, ditParameters)));

        // Wan2.1's VAE (base 96, multipliers 1 2 4 4, 2 residual blocks per stage): 194 tensors, 126.9 M parameters
        var vae = layout.Vae.ToDictionary(t => t.Name, t => t.Shape);
        Assert.That((vae.Count, layout.Vae.Sum(t => t.ElementCount)), Is.EqualTo((194, 126_892_531L)));
        Assert.That(vae["encoder.conv_in.weight"], Is.EqualTo(new long[] { 96, 3, 3, 3, 3 }));
        Assert.That(vae["quant_conv.weight"], Is.EqualTo(new long[] { 32, 32, 1, 1, 1 }));
        Assert.That(vae["post_quant_conv.weight"], Is.EqualTo(new long[] { 16, 16, 1, 1, 1 }));
        Assert.That(vae["decoder.conv_out.weight"], Is.EqualTo(new long[] { 3, 96, 3, 3, 3 }));
        using (var config = JsonDocument.Parse(parts.Vae.ToJson()))
        {
            var root = config.RootElement;
            Assert.That(root.GetProperty("base_dim").GetInt32(), Is.EqualTo(96));
            Assert.That(root.GetProperty("z_dim").GetInt32(), Is.EqualTo(16));
            Assert.That(root.GetProperty("dim_mult").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(new[] { 1, 2, 4, 4 }));
            Assert.That(root.GetProperty("num_res_blocks").GetInt32(), Is.EqualTo(2));
            Assert.That(root.GetProperty("temperal_downsample").EnumerateArray().Select(e => e.GetBoolean()), Is.EqualTo(new[] { false, true, true }));
            Assert.That(root.GetProperty("latents_mean")[0].GetDouble(), Is.EqualTo(-0.7571));
            Assert.That(root.GetProperty("latents_std")[15].GetDouble(), Is.EqualTo(1.9160));
        }

        var encoder = layout.TextEncoder.ToDictionary(t => t.Name, t => t.Shape);
        int vocabulary = parts.Tokenizer.VocabSize;
        Assert.That(encoder["shared.weight"], Is.EqualTo(new long[] { vocabulary, 4096 }));
        Assert.That(encoder["encoder.block.1.layer.0.SelfAttention.q.weight"], Is.EqualTo(new long[] { 512, 4096 }));
        Assert.That(encoder["encoder.block.1.layer.1.DenseReluDense.wo.weight"], Is.EqualTo(new long[] { 4096, 1024 }));
        Assert.That(encoder["encoder.final_layer_norm.weight"], Is.EqualTo(new long[] { 4096 }));
        Assert.That(encoder.Keys, Has.None.StartsWith("encoder.block.2."), "two layers: a stand-in, not UMT5-XXL");
        Assert.That(parts.TextEncoder.DModel, Is.EqualTo(dit.TextDim));

        Assert.That(parts.Sampling, Is.EqualTo(new SampleSettings(frames, height, width, Steps: 50, Guidance: 5.0, shift)));
    }

    [TestCase(1)]   // in the transformer
    [TestCase(100)] // in the VAE, the transformer and text encoder complete
    public void AFailedWriteLeavesNothingBehind(int tensorsBeforeTheFailure)
    {
        string folder = Temp.PathTo("tiny-t2v");
        int written = 0;
        var error = Assert.Throws<IOException>(() => PipelineSynthesizer.Write(Tiny(folder), TinyParts, _ =>
        {
            if (++written > tensorsBeforeTheFailure) throw new IOException("disk full");
        }));
        Assert.That(error!.Message, Is.EqualTo("disk full"));
        Assert.That(Directory.EnumerateFileSystemEntries(Temp.Path), Is.Empty, "neither the folder nor its temporary folder");
    }
}
