using Turbo.Tests.Support;
using System.Text.Json.Nodes;
using Turbo.Quantizer.Calibration;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Runtime.Sampling;
using Turbo.Tests.Converter;
using Turbo.Tests.Models;
using static TorchSharp.torch;

namespace Turbo.Tests.Quantizer;

public class CalibrationTests
{
    TempFolder _scratch = null!;

    [SetUp]
    public void CreateScratch() => _scratch = new TempFolder();

    [TearDown]
    public void DeleteScratch() => _scratch.Dispose();

    /// <summary>Counts how often each sample is produced.</summary>
    sealed class CountingSource(ICalibrationSource inner) : ICalibrationSource
    {
        public List<int> Requested { get; } = [];
        public string Description => inner.Description;
        public int Count => inner.Count;

        public CalibrationSample Get(int index)
        {
            Requested.Add(index);
            return inner.Get(index);
        }
    }

    static readonly string[] Layers = ["blocks.0.self_attn.q", "blocks.1.cross_attn.k", "blocks.1.ffn.2"];
    static CalibrationSettings Settings => new(FlowMatchSchedule.DiffusersUniPc(2, 5.0), "euler", 1.0, RowsPerCall: 4, Seed: 3);

    static RandomCalibrationSource Source(WanConfig config) => new(config, [1, 4, 6], contextRows: 5, count: 3, seed: 11);

    [Test]
    public void StatisticsCountEveryTokenAndResumeSkipsFinishedSamples()
    {
        using var model = GoldenWan.LoadModel();
        var source = new CountingSource(Source(model.Config));
        var fingerprint = new JsonObject { ["test"] = "v1" };
        var store = new CalibrationStore(_scratch.PathTo("calibration"), fingerprint);
        var first = Calibrator.Run(model, Layers, source, 2, Settings, store, maxRows: 1000);
        try
        {
            Assert.That(source.Requested, Is.EqualTo(new[] { 0, 1 }));
            // latent 1x4x6 with patch (1,2,2) = 6 tokens per call, 2 samples x 2 steps
            Assert.That(first["blocks.0.self_attn.q"].Tokens, Is.EqualTo(2 * 2 * 6));
            Assert.That(first["blocks.1.cross_attn.k"].Tokens, Is.EqualTo(2 * 2 * 5), "the 5 context rows");
            Assert.That(first["blocks.1.ffn.2"].Rows.shape, Is.EqualTo(new long[] { 2 * 2 * 4, 128 }));
            var crossKey = first["blocks.1.cross_attn.k"];
            Assert.That(crossKey.TokenAbsMaxQuantile(1.0), Is.EqualTo(crossKey.AbsMax));
            Assert.That(crossKey.TokenAbsMaxQuantile(0.5), Is.LessThanOrEqualTo(crossKey.AbsMax).And.GreaterThan(0));
            using var rowMax = first["blocks.1.ffn.2"].Rows.abs().amax([0L]);
            using var below = (rowMax <= first["blocks.1.ffn.2"].ChannelAbsMax).all();
            Assert.That(below.item<bool>(), Is.True, "kept rows never exceed the channel maxima");
        }
        finally
        {
            foreach (var s in first.Values) s.Dispose();
        }

        // One more sample: the first two are read back from disk, only the third is computed.
        source.Requested.Clear();
        var resumed = Calibrator.Run(model, Layers, source, 3, Settings, new CalibrationStore(_scratch.PathTo("calibration"), fingerprint), 1000);
        try
        {
            Assert.That(source.Requested, Is.EqualTo(new[] { 2 }));
            Assert.That(resumed["blocks.0.self_attn.q"].Tokens, Is.EqualTo(3 * 2 * 6));
        }
        finally
        {
            foreach (var s in resumed.Values) s.Dispose();
        }
    }

    [Test]
    public void SamplesAreReproducible()
    {
        var source = Source(GoldenWan.Config());
        using var a = source.Get(1);
        using var b = source.Get(1);
        using var c = source.Get(2);
        Assert.That(a.Noise.data<float>().ToArray(), Is.EqualTo(b.Noise.data<float>().ToArray()));
        Assert.That(a.Noise.data<float>().ToArray(), Is.Not.EqualTo(c.Noise.data<float>().ToArray()));
        using var zero = a.Context.abs().max();
        Assert.That(zero.item<float>(), Is.EqualTo(0f), "odd samples have an empty context");
        Assert.That(a.Noise.shape, Is.EqualTo(new long[] { 1, 16, 1, 4, 6 }));
    }

    [Test]
    public void OtherSettingsAreNotMixedIn()
    {
        _ = new CalibrationStore(_scratch.PathTo("calibration"), new JsonObject { ["solver"] = "euler", ["steps"] = 2 });
        Assert.That(() => new CalibrationStore(_scratch.PathTo("calibration"), new JsonObject { ["solver"] = "unipc", ["steps"] = 2 }),
            Throws.TypeOf<TurboException>().With.Message.Contains("solver").And.Message.Contains("\"euler\""));
    }

    [Test]
    public void BadSourceSettingsAreUserErrors()
    {
        var config = GoldenWan.Config();
        Assert.Throws<TurboException>(() => _ = new RandomCalibrationSource(config, [1, 3, 4], 5, 1, 0), "odd height");
        Assert.Throws<TurboException>(() => _ = new RandomCalibrationSource(config, [1, 4], 5, 1, 0));
        Assert.Throws<TurboException>(() => _ = new RandomCalibrationSource(config, [1, 4, 4], 0, 1, 0));
        Assert.Throws<TurboException>(() => (Settings with { Solver = "heun" }).Validate());
        Assert.Throws<TurboException>(() => (Settings with { Guidance = 0.5 }).Validate());
    }
}
