using Turbo.Tests.Support;
using Turbo.Quantizer;
using Turbo.Quantizer.Calibration;
using Turbo.Quantizer.Smoothing;
using Turbo.Runtime;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Tests.Quantizer;

public class SmoothQuantTests
{
    [Test]
    public void FactorsFollowTheFormula()
    {
        using var activation = tensor(new[] { 4f, 1f, 0f, 9f });
        using var weight = tensor(new[] { 0.5f, -2f, 1f, 0f, 0.25f, 1f, 1f, 0f }, [2, 4]);
        using var s = SmoothQuant.Factors(activation, weight, 0.5);
        var f = s.data<float>().ToArray();
        Assert.That(f[0], Is.EqualTo(MathF.Sqrt(4f) / MathF.Sqrt(0.5f)).Within(1e-6));
        Assert.That(f[1], Is.EqualTo(MathF.Sqrt(1f) / MathF.Sqrt(2f)).Within(1e-6));
        Assert.That(f[2], Is.EqualTo(1f), "a channel that never fires keeps s = 1");
        Assert.That(f[3], Is.EqualTo(1f), "a zero weight column keeps s = 1");
        Assert.Throws<TurboException>(() => SmoothQuant.Factors(activation, weight, 1.5));
        Assert.That(SmoothQuant.Grid(4), Is.EqualTo(new[] { 0, 0.25, 0.5, 0.75, 1 }));
    }

    [Test]
    public void SearchFindsSmoothingForOutlierChannels()
    {
        // Activations with a few channels 50x larger than the rest, as in real transformer layers.
        using var generator = new Generator(5);
        var gains = Enumerable.Repeat(1f, 256).ToArray();
        gains[3] = gains[77] = gains[200] = 50f;
        using var channelGain = tensor(gains);
        using var rows = randn([512, 256], generator: generator) * channelGain;
        using var weight = randn([64, 256], generator: generator) * 0.05;
        using var channelMax = rows.abs().amax([0L]);
        using var statistics = new LayerStatistics(channelMax.clone(), Turbo.Quantizer.Calibration.TokenHistogram.Count(rows.abs().amax([1L])), rows.clone());

        var (plain, plainReport) = LayerQuantizer.Quantize("layer", weight, statistics, QuantFormat.Int8PerChannel, null);
        var (smoothed, report) = LayerQuantizer.Quantize("layer", weight, statistics, QuantFormat.Int8PerChannel, SmoothQuant.Grid(10));
        using (plain)
        using (smoothed)
        {
            TestContext.Out.WriteLine($"output SQNR: unsmoothed {plainReport.OutputSqnrDb:F1} dB, smoothed (alpha {report.Alpha}) {report.OutputSqnrDb:F1} dB");
            Assert.That(plainReport.Alpha, Is.Null);
            Assert.That(plainReport.Candidates, Has.Count.EqualTo(1));
            Assert.That(report.Candidates, Has.Count.EqualTo(12));
            Assert.That(report.Alpha, Is.Not.Null);
            Assert.That(smoothed.Smooth, Is.Not.Null);
            Assert.That(report.OutputSqnrUnsmoothedDb, Is.EqualTo(plainReport.OutputSqnrDb));
            Assert.That(report.OutputSqnrDb, Is.GreaterThan(plainReport.OutputSqnrDb + 3), "smoothing must pay off here");
            Assert.That(report.Activations.OutlierChannels, Is.EqualTo(3));
            Assert.That(report.Activations.TopOutlierChannels, Is.EquivalentTo(new[] { 3, 77, 200 }));
            Assert.That(report.WeightSqnrDb, Is.GreaterThan(30));
        }
    }
}
