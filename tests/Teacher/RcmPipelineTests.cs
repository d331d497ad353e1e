using System.Text.Json;
using Turbo.Converter.Pipelines;
using Turbo.Runtime;
using Turbo.Runtime.Sampling;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Teacher;

public class RcmPipelineTests
{
    static readonly SampleSettings Rcm = MicroTeacher.Sampling with { Steps = 3, Guidance = 1, Sampler = SamplerKind.Rcm, SigmaMax = 120 };

    [Test]
    public void TheSamplerChoiceRoundTripsThroughModelIndex()
    {
        using var json = JsonDocument.Parse(Rcm.ToJson().ToJsonString());
        Assert.That(SampleSettings.FromJson(json.RootElement, "test"), Is.EqualTo(Rcm));
        Assert.That(json.RootElement.GetProperty("sampler").GetString(), Is.EqualTo("rcm"));
        using var plain = JsonDocument.Parse(MicroTeacher.Sampling.ToJson().ToJsonString());
        Assert.That(plain.RootElement.TryGetProperty("sampler", out _), Is.False, "a UniPC model's index is as before");
        Assert.That(SampleSettings.FromJson(plain.RootElement, "test").Sampler, Is.EqualTo(SamplerKind.UniPc));

        using var unknown = JsonDocument.Parse("""{"frames":5,"height":16,"width":16,"steps":2,"guidance_scale":1,"flow_shift":3,"sampler":"ddim"}""");
        Assert.That(Assert.Throws<TurboException>(() => SampleSettings.FromJson(unknown.RootElement, "index.json"))!.Message,
            Does.Contain("index.json").And.Contain("sampler"));
        using var tooMany = JsonDocument.Parse("""{"frames":5,"height":16,"width":16,"steps":6,"guidance_scale":1,"flow_shift":3,"sampler":"rcm"}""");
        Assert.Throws<TurboException>(() => SampleSettings.FromJson(tooMany.RootElement, "index.json"));
    }

    /// <summary>The rCM sampler's fresh noise comes from each clip's own generator: a clip does not depend on its batch.</summary>
    [Test]
    public void RcmClipsAreDeterministicAndDoNotDependOnTheirBatch()
    {
        using var folder = new TempFolder();
        foreach (var w in MicroTeacher.Write(folder.Path).Values) w.Dispose();
        using var pipeline = WanTextToVideo.Load(folder.Path, CPU, ScalarType.Float32);
        string[] prompts = ["a small red circle moves left", "a big green square"];
        var calls = new List<int>();
        using var both = pipeline.GenerateLatents(prompts, seed: 5, Rcm, (step, _) => calls.Add(step));
        using var second = pipeline.GenerateLatents([prompts[1]], seed: 5, Rcm, firstIndex: 1);
        using var unipc = pipeline.GenerateLatents(prompts, seed: 5, Rcm with { Sampler = SamplerKind.UniPc });
        Assert.That(calls, Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(RelativeError.Of(second[0], both[1]), Is.LessThan(1e-5));
        Assert.That(unipc.eq(both).all().item<bool>(), Is.False, "the choice of sampler matters");
        using var video = pipeline.Generate(prompts, seed: 5, Rcm);
        Assert.That(video.shape, Is.EqualTo(new long[] { 2, 3, 5, 16, 16 }));
    }
}
