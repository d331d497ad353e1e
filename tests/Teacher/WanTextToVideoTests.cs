using Turbo.Converter.Pipelines;
using Turbo.Runtime;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Teacher;

public class WanTextToVideoTests
{
    static readonly string[] Prompts = ["a small red circle moves left", "a big green square over a dark blue background"];

    [Test]
    public void TheWrittenFolderLoadsBackWithItsFloat16Weights()
    {
        using var folder = new TempFolder();
        var weights = MicroTeacher.Write(folder.Path);
        using var pipeline = WanTextToVideo.Load(folder.Path, CPU, ScalarType.Float32);
        Assert.That(pipeline.Defaults, Is.EqualTo(MicroTeacher.Sampling));
        Assert.That(pipeline.Transformer.Config.TextLen, Is.EqualTo(MicroTeacher.Transformer.TextLen), "text_len survives the diffusers config");
        Assert.That(pipeline.Vae.Config.LatentsStd, Is.EqualTo(MicroTeacher.Vae.LatentsStd));
        foreach (var (name, p) in pipeline.Transformer.named_parameters())
            Assert.That(p.eq(weights[name].to(ScalarType.Float16).to(ScalarType.Float32)).all().item<bool>(), $"{name}: the float16 the folder ships");
        foreach (var w in weights.Values) w.Dispose();
    }

    [Test]
    public void GeneratesDeterministicClipsThatDoNotDependOnTheirBatch()
    {
        using var folder = new TempFolder();
        foreach (var w in MicroTeacher.Write(folder.Path).Values) w.Dispose();
        using var pipeline = WanTextToVideo.Load(folder.Path, CPU, ScalarType.Float32);
        using var both = pipeline.Generate(Prompts, seed: 5, MicroTeacher.Sampling);
        using var again = pipeline.Generate(Prompts, seed: 5, MicroTeacher.Sampling);
        using var second = pipeline.Generate([Prompts[1]], seed: 5, MicroTeacher.Sampling, firstIndex: 1);
        using var otherSeed = pipeline.Generate(Prompts, seed: 6, MicroTeacher.Sampling);
        Assert.That(both.shape, Is.EqualTo(new long[] { 2, 3, 5, 16, 16 }));
        Assert.That(both.isfinite().all().item<bool>() && both.abs().max().item<float>() <= 1f);
        Assert.That(both.eq(again).all().item<bool>(), "same seed, same clips");
        Assert.That(RelativeError.Of(second[0], both[1]), Is.LessThan(1e-5), "clip 1 alone equals clip 1 of the batch");
        Assert.That(otherSeed.eq(both).all().item<bool>(), Is.False);
    }

    [Test]
    public void PromptEmbeddingsAreZeroPastEachPromptsTokens()
    {
        using var folder = new TempFolder();
        foreach (var w in MicroTeacher.Write(folder.Path).Values) w.Dispose();
        using var pipeline = WanTextToVideo.Load(folder.Path, CPU, ScalarType.Float32);
        using var context = pipeline.EncodePrompts(["a small red circle", ""]);
        Assert.That(context.shape, Is.EqualTo(new long[] { 2, 8, 16 }));
        Assert.That(context[0, ..5].abs().sum().item<float>(), Is.GreaterThan(0)); // four words and </s>
        Assert.That(context[0, 5..].abs().sum().item<float>(), Is.EqualTo(0));
        Assert.That(context[1, 1..].abs().sum().item<float>(), Is.EqualTo(0));
    }

    [Test]
    public void AFolderWithoutAnIndexOrWithMismatchedPartsIsRefusedByName()
    {
        using var folder = new TempFolder();
        var error = Assert.Throws<TurboException>(() => WanTextToVideo.Load(folder.Path, CPU, ScalarType.Float32));
        Assert.That(error!.Message, Does.Contain("model_index.json"));

        foreach (var w in MicroTeacher.Write(folder.Path, MicroTeacher.Transformer with { TextDim = 24 }).Values) w.Dispose();
        error = Assert.Throws<TurboException>(() => WanTextToVideo.Load(folder.Path, CPU, ScalarType.Float32));
        Assert.That(error!.Message, Does.Contain("text_dim 24"));
    }
}
