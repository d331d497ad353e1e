using Turbo.Tests.Support;
using Turbo.Converter.Cli;
using Turbo.Quantizer.Output;
using Turbo.Quantizer.Reports;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Runtime.Quant;
using Turbo.Tests.Cli;
using Turbo.Tests.Converter;
using Turbo.Tests.Models;
using static TorchSharp.torch;

namespace Turbo.Tests.Quantizer;

public class QuantizeCommandTests
{
    TempFolder _scratch = null!;

    [SetUp]
    public void CreateScratch() => _scratch = new TempFolder();

    [TearDown]
    public void DeleteScratch() => _scratch.Dispose();

    /// <summary>Small calibration so the whole run takes seconds: 1 + 1 samples, 2 steps, 6 tokens, 8 context rows.</summary>
    static readonly string[] Quick =
        ["--calib-samples", "1", "--eval-samples", "1", "--calib-steps", "2", "--calib-latent", "1x4x6", "--calib-context-len", "8", "--device", "cpu"];

    string Checkpoint()
    {
        GoldenCopies.WithConfigBeside(_scratch.PathTo("ckpt"), Golden.OriginalWeights, Golden.OriginalConfig);
        return _scratch.PathTo("ckpt");
    }

    static CliRunner.Result Quantize(string checkpoint, string output, params string[] extra) =>
        CliRunner.Run(["quantize", checkpoint, "-o", output, .. Quick, .. extra]);

    [TestCase("int8-channel", false)]
    [TestCase("int8-block128", true)]
    [TestCase("fp8", false)]
    public void RoundTripOnTheGoldenModel(string scheme, bool smooth)
    {
        string output = _scratch.PathTo("out");
        var r = Quantize(Checkpoint(), output, smooth ? ["--scheme", scheme, "--smooth", "--alpha-steps", "4"] : ["--scheme", scheme]);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Err);
        Assert.That(r.Out, Does.Contain("velocity cosine"));

        string weights = Path.Combine(output, QuantizedCheckpointWriter.Stem + ".safetensors");
        Assert.That(File.Exists(Path.Combine(output, "config.json")), Is.True);
        var report = QuantizationReport.FromJson(File.ReadAllText(Path.Combine(output, QuantizationOutput.ReportFile)));
        Assert.That(report.Scheme, Is.EqualTo(scheme));
        Assert.That(report.Layers, Has.Count.EqualTo(20));
        Assert.That(report.HighPrecisionLinears, Has.Count.EqualTo(6));
        Assert.That(report.Layers.All(l => l.OutputSqnrDb > 20 && l.WeightSqnrDb > 20), Is.True);
        Assert.That(report.Layers.Any(l => l.Alpha is not null), Is.EqualTo(smooth));
        Assert.That(report.EndToEnd.VelocityCosineMin, Is.GreaterThan(0.99));

        using var file = SafetensorsFile.Open(weights);
        using var golden = SafetensorsFile.Open(Golden.Path(Golden.OriginalWeights));
        Assert.That(file.Metadata, Does.ContainKey(QuantizedTensorNames.MetadataKey));
        var q = file.Info("blocks.1.ffn.2.weight");
        Assert.That(q.DType, Is.EqualTo(scheme == "fp8" ? SafetensorsDType.F8_E4M3 : SafetensorsDType.I8));
        Assert.That(file.Info("blocks.1.ffn.2.weight_scale").Shape, Is.EqualTo(scheme == "int8-block128" ? new long[] { 1, 1 } : new long[] { 64 }));
        Assert.That(file.Info("head.head.weight").DType, Is.EqualTo(SafetensorsDType.F32));
        foreach (string copied in new[] { "head.head.weight", "blocks.0.modulation", "blocks.0.self_attn.q.bias", "text_embedding.0.weight" })
            Assert.That(file.Bytes(copied).ToArray(), Is.EqualTo(golden.Bytes(copied).ToArray()), copied + " is copied as stored");

        using var model = QuantizedWanLoader.Load(GoldenWan.Config(), file.Tensors, file.Read, weights);
        Assert.That(WanLinears.Of(model).Count(l => l.Linear.Kernel is not null), Is.EqualTo(20));
        using var io = SafetensorsFile.Open(Golden.Path(Golden.ForwardIO));
        using var x = io.Read("x");
        using var t = io.Read("timestep");
        using var context = io.Read("context");
        using var expected = io.Read("out");
        using var noGrad = no_grad();
        using var velocity = model.Forward(x, t, context);
        double cosine = ErrorMetrics.Cosine(expected, velocity);
        TestContext.Out.WriteLine($"{scheme}{(smooth ? " smoothed" : "")}: reloaded checkpoint vs golden fp32 output cosine {cosine:F6}; " +
            $"report: layer output SQNR min {report.MinOutputSqnrDb:F1} dB, velocity cosine {report.EndToEnd.VelocityCosineMean:F6}");
        Assert.That(cosine, Is.GreaterThanOrEqualTo(scheme == "fp8" ? 0.99 : 0.995));
    }

    [Test]
    public void RerunResumesTheCalibrationButRefusesAFinishedFolder()
    {
        string checkpoint = Checkpoint(), output = _scratch.PathTo("out");
        Assert.That(Quantize(checkpoint, output).ExitCode, Is.EqualTo(0));
        string statistics = Path.Combine(output, QuantizationOutput.CalibrationFolder, "sample-00000.safetensors");
        var written = File.GetLastWriteTimeUtc(statistics);

        AssertUserError(Quantize(checkpoint, output), "not empty");
        foreach (string f in Directory.EnumerateFiles(output)) File.Delete(f);
        File.WriteAllText(Path.Combine(output, "leftover.safetensors.tmp"), "partial");
        var r = Quantize(checkpoint, output);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Err);
        Assert.That(File.GetLastWriteTimeUtc(statistics), Is.EqualTo(written), "statistics reused, not recomputed");
        Assert.That(File.Exists(Path.Combine(output, "leftover.safetensors.tmp")), Is.False);

        foreach (string f in Directory.EnumerateFiles(output)) File.Delete(f);
        AssertUserError(Quantize(checkpoint, output, "--calib-rows", "5"), "rows_per_call");
        File.SetLastWriteTimeUtc(Path.Combine(checkpoint, Golden.OriginalWeights), DateTime.UtcNow.AddDays(-1));
        AssertUserError(Quantize(checkpoint, output), "checkpoint", "delete");
    }

    [Test]
    public void BadInputIsAOneLineUserError()
    {
        string checkpoint = Checkpoint();
        AssertUserError(Quantize(checkpoint, _scratch.PathTo("a"), "--include", "blocks.*.mlp"), "--include blocks.*.mlp", "matches no Linear layer");
        AssertUserError(CliRunner.Run("quantize", checkpoint, "-o", _scratch.PathTo("b"), "--calib-latent", "1x3x4"), "height 3");
        AssertUserError(CliRunner.Run("quantize", checkpoint, "-o", _scratch.PathTo("c"), "--calib-latent", "big"), "FxHxW");
        AssertUserError(CliRunner.Run("quantize", checkpoint, "-o", _scratch.PathTo("d"), "--calib-steps", "0"), "steps");
        AssertUserError(CliRunner.Run("quantize", checkpoint, "-o", _scratch.PathTo("e"), "--calib-samples", "0"), "calibration samples 0");
        AssertUserError(CliRunner.Run("quantize", Golden.Path("umt5.transformers.safetensors"), "-o", _scratch.PathTo("f")), "unknown model family");
        File.WriteAllText(_scratch.PathTo("file"), "x");
        AssertUserError(Quantize(checkpoint, _scratch.PathTo("file")), "is a file");
        var parse = CliRunner.Run("quantize", checkpoint, "-o", _scratch.PathTo("g"), "--scheme", "int4");
        Assert.That(parse.ExitCode, Is.Not.EqualTo(0));
        Assert.That(parse.Err, Does.Contain("int4"));
        Assert.That(Directory.Exists(_scratch.PathTo("a")) ? Directory.EnumerateFiles(_scratch.PathTo("a")).Count() : 0, Is.EqualTo(0), "nothing written");
    }

    static void AssertUserError(CliRunner.Result r, params string[] fragments)
    {
        Assert.That(r.ExitCode, Is.EqualTo(CliInvocation.UserErrorExitCode), r.Err);
        string message = r.Err.Split('\n').Single(line => line.StartsWith("error: ", StringComparison.Ordinal));
        foreach (string f in fragments) Assert.That(message, Does.Contain(f));
    }
}
