using System.Text.Json;
using Turbo.Converter.Pipelines;
using Turbo.Runtime;
using Turbo.Runtime.Sampling;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Teacher;

public class RcmPipelineTests
{
    static readonly SampleSettings Rcm = MicroTeacher.Sampling with { Steps = 3, Guidance = 1, Solver = FlowSolvers.Rcm, Times = RcmSchedule.Create(3, sigmaMax: 120).Sigmas };

    [Test]
    public void TheSamplerChoiceRoundTripsThroughModelIndex()
    {
        using var json = JsonDocument.Parse(Rcm.ToJson().ToJsonString());
        var read = SampleSettings.FromJson(json.RootElement, "test");
        Assert.That(read with { Times = Rcm.Times }, Is.EqualTo(Rcm));
        Assert.That(read.Times, Is.EqualTo(Rcm.Times));
        Assert.That(json.RootElement.GetProperty("solver").GetString(), Is.EqualTo("rcm"));
        using var plain = JsonDocument.Parse(MicroTeacher.Sampling.ToJson().ToJsonString());
        Assert.That(plain.RootElement.TryGetProperty("solver", out _), Is.False, "a UniPC model's index is as before");
        Assert.That(SampleSettings.FromJson(plain.RootElement, "test"), Is.EqualTo(MicroTeacher.Sampling));

        using var unknown = JsonDocument.Parse("""{"frames":5,"height":16,"width":16,"steps":2,"guidance_scale":1,"flow_shift":3,"solver":"ddim"}""");
        Assert.That(Assert.Throws<TurboException>(() => SampleSettings.FromJson(unknown.RootElement, "index.json"))!.Message,
            Does.Contain("index.json").And.Contain("solver"));
        using var tooMany = JsonDocument.Parse("""{"frames":5,"height":16,"width":16,"steps":6,"guidance_scale":1,"flow_shift":3,"solver":"rcm"}""");
        Assert.That(Assert.Throws<TurboException>(() => SampleSettings.FromJson(tooMany.RootElement, "index.json"))!.Message,
            Does.Contain("index.json").And.Contain("steps"));
        using var wrongCount = JsonDocument.Parse("""{"frames":5,"height":16,"width":16,"steps":2,"guidance_scale":1,"flow_shift":3,"solver":"rcm","times":[0.9,0]}""");
        Assert.That(Assert.Throws<TurboException>(() => SampleSettings.FromJson(wrongCount.RootElement, "index.json"))!.Message,
            Does.Contain("index.json").And.Contain("3 explicit times"));
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
        using var unipc = pipeline.GenerateLatents(prompts, seed: 5, Rcm with { Solver = FlowSolvers.UniPc, Times = null });
        Assert.That(calls, Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(RelativeError.Of(second[0], both[1]), Is.LessThan(1e-5));
        Assert.That(unipc.eq(both).all().item<bool>(), Is.False, "the choice of sampler matters");
        using var video = pipeline.Generate(prompts, seed: 5, Rcm);
        Assert.That(video.shape, Is.EqualTo(new long[] { 2, 3, 5, 16, 16 }));
    }
}
