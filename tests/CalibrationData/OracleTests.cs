using Turbo.CalibrationData.Oracle;
using Turbo.CalibrationData.Shapes;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Tests.CalibrationData;

/// <summary>The committed oracle (calibration-data/oracle), loaded as every tool loads it: from beside the program; one per test.</summary>
public sealed class OracleTests : TensorScopePerTest
{
    const int Clips = 64;
    ShapesOracle Oracle = null!;

    [SetUp]
    public void LoadCommittedOracle() => Oracle = ShapesOracle.Load(ShapesOracle.DefaultPath);

    [TearDown]
    public void DisposeOracle() => Oracle.Dispose();

    static (Tensor Videos, List<ShapesSample> Samples) HeldOutClips(ulong seed, int count = Clips)
    {
        var dataset = new ShapesDataset(seed);
        var samples = Enumerable.Range(0, count).Select(i => dataset.Sample(ShapesSplit.HeldOut, i)).ToList();
        return (stack(samples.Select(s => s.Video)), samples);
    }

    [Test]
    public void CommittedOracleReadsEveryFactorOfFreshHeldOutClipsAtLeast97PercentRight()
    {
        var (videos, samples) = HeldOutClips(seed: 31337);
        var report = Oracle.Score(videos, samples.Select(s => s.Factors.State()).ToList());
        foreach (var factor in FactorRules.All)
            Assert.That(report.Accuracy(factor), Is.GreaterThanOrEqualTo(0.97), $"{factor}: {report.PerFactor[factor]}");
        Assert.That(report.Adherence, Is.GreaterThanOrEqualTo(0.97));
    }

    [Test]
    public void CaptionsThatMisstateAFactorScoreLower()
    {
        var (videos, samples) = HeldOutClips(seed: 4242, count: 32);
        var truthful = samples.Select(s => s.Stated).ToList();
        var wrongColour = truthful.Select(s => s with { Colour = (ShapeColour)(((int)s.Colour + 1) % 6) }).ToList();
        var withoutBackground = truthful.Select(s => s with { Background = null }).ToList();
        var honest = Oracle.Score(videos, truthful);
        var lying = Oracle.Score(videos, wrongColour);
        Assert.That(lying.Accuracy(Factor.Colour), Is.LessThan(0.1));
        Assert.That(lying.Adherence, Is.LessThan(honest.Adherence - 0.1));
        var partial = Oracle.Score(videos, withoutBackground);
        Assert.That(partial.PerFactor[Factor.Background].Stated, Is.EqualTo(0), "unstated factors are not scored");
        Assert.That(partial.Stated, Is.EqualTo(honest.Stated - 32));
    }

    [Test]
    public void FeaturesSeparateClipsOfOtherPromptsFromClipsOfTheSamePrompts()
    {
        var prompts = Turbo.CalibrationData.Prompts.PromptSets.Evaluation().Take(48).ToList();
        var dataset = new ShapesDataset(8);
        Tensor Clips(Func<string, int, ShapesSample> make) => stack(prompts.Select((p, i) => make(p, i).Video));
        using var realA = Clips((p, i) => dataset.ClipFor(p, i));
        using var realB = Clips((p, i) => dataset.ClipFor(p, 1000 + i));
        using var other = stack(Enumerable.Range(0, prompts.Count).Select(i => dataset.Sample(ShapesSplit.Train, i).Video));
        var (featuresA, featuresB, featuresOther) = (Oracle.Features(realA), Oracle.Features(realB), Oracle.Features(other));
        Assert.That(featuresA.shape, Is.EqualTo(new long[] { 48, ShapesOracle.FeatureSize }));
        double same = FrechetDistance.Between(featuresA, featuresB), different = FrechetDistance.Between(featuresA, featuresOther);
        Assert.That(same, Is.LessThan(different / 2), $"same prompts {same:F2}, other prompts {different:F2}");
    }

    [TestCase(9, 96)]
    [TestCase(9, 128)]
    [TestCase(17, 32)]
    [TestCase(5, 48)]
    public void ReadsClipsOfAnyFrameCountAndSize(int frames, int side)
    {
        var dataset = new ShapesDataset(77, new ShapesOptions(Frames: frames, Height: side, Width: side));
        var samples = Enumerable.Range(0, 16).Select(i => dataset.Sample(ShapesSplit.HeldOut, i)).ToList();
        var clips = stack(samples.Select(s => s.Video));
        var report = Oracle.Score(clips, samples.Select(s => s.Stated).ToList());
        Assert.That(report.Adherence, Is.GreaterThanOrEqualTo(0.9));
    }

    [Test]
    public void RejectsClipsOfTheWrongShapeOrType()
    {
        Assert.Throws<TurboException>(() => Oracle.Features(zeros([3, 17, 64, 64])));
        Assert.Throws<TurboException>(() => Oracle.Features(zeros([2, 4, 17, 64, 64])));
        Assert.Throws<TurboException>(() => Oracle.Features(zeros([2, 3, 17, 64, 64], float64)));
        Assert.Throws<TurboException>(() => Oracle.Features(zeros([0, 3, 17, 64, 64])));
        Assert.Throws<TurboException>(() => Oracle.Score(zeros([2, 3, 17, 64, 64]), []));
    }

    [Test]
    public void LoadingNamesTheFileAndTheProblem()
    {
        string folder = Directory.CreateTempSubdirectory("turbo-oracle-").FullName;
        try
        {
            string missing = Path.Combine(folder, "absent.safetensors");
            Assert.That(Assert.Throws<TurboException>(() => ShapesOracle.Load(missing))!.Message, Does.Contain(missing));

            // A complete file (parameters and batch-norm statistics) with one parameter of the wrong shape.
            string complete = Path.Combine(folder, "complete.safetensors");
            Oracle.Save(complete, new Dictionary<string, string>());
            using var file = SafetensorsFile.Open(complete);
            var tensors = file.Tensors.ToDictionary(t => t.Name, t => file.Read(t.Name));
            string firstName = Oracle.named_parameters().First().name;
            tensors[firstName] = zeros(7, float16);
            string wrong = Path.Combine(folder, "wrong.safetensors");
            SafetensorsWriter.Save(wrong, tensors);
            var error = Assert.Throws<TurboException>(() => ShapesOracle.Load(wrong))!;
            Assert.That(error.Message, Does.Contain(wrong).And.Contain(firstName));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void SavedWeightsLoadBackIdentically()
    {
        string folder = Directory.CreateTempSubdirectory("turbo-oracle-").FullName;
        try
        {
            string path = Path.Combine(folder, "copy.safetensors");
            Oracle.Save(path, new Dictionary<string, string> { ["format"] = "test" });
            using var copy = ShapesOracle.Load(path);
            // The committed weights are float16 values already, so saving them again as float16 loses nothing.
            var original = Oracle.named_parameters().Select(p => (p.name, Tensor: (Tensor)p.parameter)).Concat(Oracle.named_buffers().Select(b => (b.name, Tensor: b.buffer)));
            var loaded = copy.named_parameters().Select(p => (p.name, Tensor: (Tensor)p.parameter)).Concat(copy.named_buffers().Select(b => (b.name, Tensor: b.buffer))).ToDictionary(t => t.name, t => t.Tensor);
            foreach (var (name, tensor) in original)
                Assert.That(loaded[name].equal(tensor).all().item<bool>(), Is.True, name);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
