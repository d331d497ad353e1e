using Turbo.CalibrationData.Prompts;
using Turbo.CalibrationData.Shapes;

namespace Turbo.Tests.CalibrationData;

public sealed class PromptFileTests
{
    [Test]
    public void CommittedFilesEqualWhatTheCodeGenerates()
    {
        foreach (var (file, lines) in PromptSets.Files())
        {
            string path = ShapesTestFiles.InCalibrationData("prompt-lists", file);
            Assert.That(File.Exists(path), Is.True, $"{path} is missing: run `turbo-shapes prompts`");
            Assert.That(File.ReadAllText(path), Is.EqualTo(PromptSets.Text(lines)), $"{path} is stale: run `turbo-shapes prompts`");
        }
    }

    [Test]
    public void CalibrationPromptsAre64DistinctTrainingCaptions()
    {
        var prompts = PromptSets.Calibration();
        Assert.That(prompts, Has.Count.EqualTo(64));
        Assert.That(prompts, Is.Unique);
        Assert.That(prompts.Select(Captions.Parse).Any(HeldOutCombinations.Contains), Is.False);
        Assert.That(prompts.Select(Captions.Parse).Select(p => p.Motion).Distinct().Count(), Is.EqualTo(7), "every motion appears");
    }

    [Test]
    public void EvaluationPromptsAreAtLeast200FullCaptionsOfHeldOutCombinations()
    {
        var prompts = PromptSets.Evaluation();
        Assert.That(prompts, Has.Count.GreaterThanOrEqualTo(200));
        Assert.That(prompts, Is.Unique);
        foreach (var stated in prompts.Select(Captions.Parse))
        {
            Assert.That(HeldOutCombinations.Contains(stated), Is.True, stated.Caption);
            Assert.That(stated.Background, Is.Not.Null, stated.Caption);
            Assert.That(stated.Speed is null, Is.EqualTo(!FactorRules.HasSpeed(stated.Motion)), stated.Caption);
        }
        var triples = prompts.Select(Captions.Parse).Select(s => (s.Shape, s.Colour, s.Motion)).Distinct();
        Assert.That(triples.Count(), Is.EqualTo(HeldOutCombinations.Triples.Count));
    }

    [Test]
    public void VocabularyCoversEveryPromptWord()
    {
        var vocabulary = PromptSets.Vocabulary().ToHashSet();
        foreach (string prompt in PromptSets.Calibration().Concat(PromptSets.Evaluation()))
            Assert.That(prompt.Split(' ').Where(w => !vocabulary.Contains(w)), Is.Empty, prompt);
    }
}
