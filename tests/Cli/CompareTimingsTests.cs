using System.Globalization;
using Turbo.Cli;
using Turbo.Cli.Bench;
using Turbo.Tests.Support;

namespace Turbo.Tests.Cli;

/// <summary>`turbo compare-timings`: two timing runs matched row by row.</summary>
public class CompareTimingsTests : TempFolderFixture
{
    const string Base = """
        {"timings": [
          {"Shape": "H 12", "Method": "SDPA", "Ms": 10.0, "DenseTflop": 6.6, "SpeedupOver": {"cuDNN": 1}},
          {"Shape": "H 12", "Method": "Sage", "Ms": 8.0, "DenseTflop": 6.6, "SpeedupOver": {"cuDNN": 1.25}},
          {"Shape": "H 40", "Method": "Sage", "Ms": 100.0, "DenseTflop": 117.0, "SpeedupOver": {"cuDNN": 1.2}}
        ]}
        """;

    const string New = """
        {"timings": [
          {"Shape": "H 12", "Method": "SDPA", "Ms": 10.5, "DenseTflop": 6.6, "SpeedupOver": {"cuDNN": 1}},
          {"Shape": "H 12", "Method": "Sage", "Ms": 6.0, "DenseTflop": 6.6, "SpeedupOver": {"cuDNN": 1.75}},
          {"Shape": "H 12", "Method": "SageSLA", "Ms": 2.0, "DenseTflop": 6.6, "SpeedupOver": {"cuDNN": 5.25}}
        ]}
        """;

    [Test]
    public void RowsAreMatchedByTheirNamesAndEachTimeIsCompared()
    {
        var c = TimingComparison.Of(Base, New, "a.json", "b.json");
        Assert.That(c.Changes.Select(t => (t.Row, t.Measure, t.BaseMs, t.NewMs)), Is.EqualTo(new[]
        {
            ("H 12, SDPA", "Ms", 10.0, 10.5),
            ("H 12, Sage", "Ms", 8.0, 6.0),
        }));
        Assert.That(c.Changes[1].Ratio, Is.EqualTo(0.75));
        Assert.That(c.OnlyInBase, Is.EqualTo(new[] { "H 40, Sage" }));
        Assert.That(c.OnlyInNew, Is.EqualTo(new[] { "H 12, SageSLA" }));
    }

    [Test]
    public void SizesBeforeTheFirstTimeNameTheRowAndResultsAfterItDoNot()
    {
        // check-int8's rows: model, layer and sizes, then times, then a result that may differ between the runs.
        static string Int8(double ms, string faster) => $$"""
            {"timings": [
              {"Model": "1.3B", "Layer": "ffn.0", "M": 32760, "Bf16Ms": 1.0, "QuantizeMs": {{ms.ToString(CultureInfo.InvariantCulture)}}, "FfnMiddleMs": "NaN", "FasterPerChannel": "{{faster}}"},
              {"Model": "1.3B", "Layer": "ffn.0", "M": 75600, "Bf16Ms": 2.0, "QuantizeMs": {{(2 * ms).ToString(CultureInfo.InvariantCulture)}}, "FfnMiddleMs": "NaN", "FasterPerChannel": "{{faster}}"}
            ]}
            """;
        var c = TimingComparison.Of(Int8(0.5, "wgmma"), Int8(0.25, "cuBLASLt"), "a", "b");
        Assert.That(c.OnlyInBase, Is.Empty);
        Assert.That(c.Changes.Select(t => $"{t.Row}: {t.Measure} {t.Ratio.ToString(CultureInfo.InvariantCulture)}"), Is.EqualTo(new[]
        {
            "1.3B, ffn.0, M 32760: Bf16Ms 1", "1.3B, ffn.0, M 32760: QuantizeMs 0.5",
            "1.3B, ffn.0, M 75600: Bf16Ms 1", "1.3B, ffn.0, M 75600: QuantizeMs 0.5",
        }));
    }

    [Test]
    public void TheCommandPrintsATableAndRefusesFilesWithoutTimings()
    {
        string a = Temp.PathTo("a.json"), b = Temp.PathTo("b.json"), bad = Temp.PathTo("bad.json");
        File.WriteAllText(a, Base);
        File.WriteAllText(b, New);
        File.WriteAllText(bad, """{"kernels": []}""");
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.That(TurboCli.Run(["compare-timings", a, b], output, error), Is.EqualTo(0), error.ToString());
        Assert.That(output.ToString(), Does.Contain("0.750×").And.Contain("only in the new run"));
        error = new StringWriter();
        Assert.That(TurboCli.Run(["compare-timings", a, bad], new StringWriter(), error), Is.EqualTo(2));
        Assert.That(error.ToString(), Does.Contain("bad.json").And.Contain("\"timings\""));
        error = new StringWriter();
        Assert.That(TurboCli.Run(["compare-timings", a, Temp.PathTo("missing.json")], new StringWriter(), error), Is.EqualTo(2));
        Assert.That(error.ToString(), Does.Contain("missing.json"));
    }
}
