using Turbo.CalibrationData.Shapes;
using Turbo.Runtime;

namespace Turbo.Tests.CalibrationData;

public sealed class CaptionTests
{
    static IEnumerable<StatedFactors> EveryStatedCombination() =>
        from triple in HeldOutCombinations.AllValidTriples()
        from size in Enum.GetValues<ShapeSize>()
        from background in Enum.GetValues<Backdrop>().Cast<Backdrop?>().Append(null)
        from speed in FactorRules.HasSpeed(triple.Motion) ? Enum.GetValues<Speed>().Cast<Speed?>().Append(null) : [null]
        select new StatedFactors(triple.Shape, triple.Colour, size, triple.Motion, background, speed);

    [Test]
    public void ComposesTheDocumentedSentence()
    {
        var stated = new StatedFactors(ShapeKind.Triangle, ShapeColour.Red, ShapeSize.Small, Motion.MovesLeft, Backdrop.DarkBlue, Speed.Quickly);
        Assert.That(stated.Caption, Is.EqualTo("a small red triangle moves left quickly over a dark blue background"));
        Assert.That((stated with { Background = null }).Caption, Is.EqualTo("a small red triangle moves left quickly"));
        Assert.That((stated with { Speed = null }).Caption, Is.EqualTo("a small red triangle moves left over a dark blue background"));
        Assert.That(new StatedFactors(ShapeKind.Star, ShapeColour.White, ShapeSize.Large, Motion.Bounces, Backdrop.Gray, null).Caption,
            Is.EqualTo("a large white star bounces over a gray background"));
    }

    [Test]
    public void ParsingInvertsComposingForEveryCaption()
    {
        var all = EveryStatedCombination().ToList();
        Assert.That(all.Select(s => s.Caption).Distinct().Count(), Is.EqualTo(all.Count), "two factor sets share a caption");
        foreach (var stated in all) Assert.That(Captions.Parse(stated.Caption), Is.EqualTo(stated), stated.Caption);
    }

    [TestCase("a small red hexagon moves left")]
    [TestCase("a small red triangle moves sideways")]
    [TestCase("a small red triangle moves left over a pink background")]
    [TestCase("small red triangle moves left")]
    [TestCase("a small red circle rotates slowly")]
    [TestCase("a small red square bounces quickly")]
    [TestCase("")]
    public void RejectsCaptionsOutsideTheGrammar(string caption)
    {
        var error = Assert.Throws<TurboException>(() => Captions.Parse(caption))!;
        Assert.That(error.Message, Does.Contain($"\"{caption}\""));
    }

    [Test]
    public void VocabularyHoldsExactlyTheWordsOfAllCaptions()
    {
        var words = EveryStatedCombination().SelectMany(s => s.Caption.Split(' ')).ToHashSet();
        Assert.That(Captions.Vocabulary(), Is.EquivalentTo(words));
        Assert.That(Captions.Vocabulary(), Is.Ordered.Using((IComparer<string>)StringComparer.Ordinal));
    }
}
