using Turbo.CalibrationData.Prompts;
using Turbo.CalibrationData.Shapes;
using Turbo.Converter.Conversion;
using Turbo.Converter.Validation;
using Turbo.Runtime;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Conversion;

public class JudgeAndPromptTests : TempFolderFixture
{
    [Test]
    public void TheShapesJudgeRecognizesOnlyShapesTeachersOfAJudgeableSize()
    {
        var judge = new ShapesOracleJudge();
        Assert.That(judge.Recognizes(MicroConversion.ShapesTeacher(Temp.Path)), Is.True);
        Assert.That(judge.Recognizes(MicroConversion.Teacher(Temp.Path)), Is.False, "other words");
        Assert.That(judge.Recognizes(Temp.Path), Is.False, "no model");
        Assert.That(QualityJudges.Resolve("auto", Temp.PathTo("teacher")), Is.Null);
        Assert.That(QualityJudges.Resolve("shapes-oracle", Temp.PathTo("teacher")), Is.SameAs(QualityJudges.All[0]));
    }

    [Test]
    public void RealClipsOfThePromptsAdhereAndGeneratedNoiseDoesNot()
    {
        var judge = new ShapesOracleJudge();
        var prompts = PromptChoice.Spread(judge.EvaluationPrompts, 6, "test");
        var dataset = new ShapesDataset(77, new ShapesOptions(Frames: 9, Height: 32, Width: 32));
        var clips = prompts.Select(p => dataset.ClipFor(p, 0).Video).ToArray();
        using var real = stack(clips);
        foreach (var c in clips) c.Dispose();
        using var noise = rand(real.shape, generator: new Generator(5)) * 2 - 1;
        var onReal = judge.Score(real, prompts);
        var onNoise = judge.Score(noise, prompts);
        Assert.That(onReal.Adherence, Is.GreaterThan(0.8));
        Assert.That(onNoise.Adherence, Is.LessThan(onReal.Adherence - 0.3));
        Assert.That(onNoise.Frechet, Is.GreaterThan(onReal.Frechet));
        using var small = zeros(new long[] { 1, 3, 5, 16, 16 });
        Assert.That(Assert.Throws<TurboException>(() => judge.Score(small, prompts.Take(1).ToList()))!.Message, Does.Contain("32"));
    }

    [Test]
    public void APromptSpreadCoversTheListAndFilesAreRead()
    {
        var list = Enumerable.Range(0, 10).Select(i => $"p{i}").ToList();
        Assert.That(PromptChoice.Spread(list, 3, "x"), Is.EqualTo(new[] { "p0", "p3", "p6" }));
        Assert.That(PromptChoice.Spread(list, 10, "x"), Is.EqualTo(list));
        Assert.That(Assert.Throws<TurboException>(() => PromptChoice.Spread(list, 11, "calibration"))!.Message, Does.Contain("calibration: 11 prompts"));
        File.WriteAllText(Temp.PathTo("p.txt"), "  one \n\n two\n");
        Assert.That(PromptChoice.ReadFile(Temp.PathTo("p.txt")), Is.EqualTo(new[] { "one", "two" }));
        File.WriteAllText(Temp.PathTo("empty.txt"), "\n \n");
        Assert.That(Assert.Throws<TurboException>(() => PromptChoice.ReadFile(Temp.PathTo("empty.txt")))!.Message, Does.Contain("empty.txt: no prompts"));
        Assert.That(PromptSets.Calibration(), Has.Count.EqualTo(PromptSets.CalibrationCount));
    }
}
