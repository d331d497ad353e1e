using System.Text.RegularExpressions;
using Turbo.Runtime;

namespace Turbo.CalibrationData.Shapes;

/// <summary>
/// Captions: "a {size} {colour} {shape} {motion}[ {speed}][ over a {background} background]".
/// Composing and parsing are exact inverses, so a prompt list can be turned back into factors.
/// </summary>
public static class Captions
{
    const string Over = "over a", BackgroundWord = "background";

    static readonly Regex Grammar = new(
        "^a (?<size>" + Alternatives(Factor.Size) + ") (?<colour>" + Alternatives(Factor.Colour) + ") (?<shape>" + Alternatives(Factor.Shape) +
        ") (?<motion>" + Alternatives(Factor.Motion) + ")(?: (?<speed>" + Alternatives(Factor.Speed) + "))?(?: " + Over + " (?<background>" +
        Alternatives(Factor.Background) + ") " + BackgroundWord + ")?$", RegexOptions.CultureInvariant);

    public static string Compose(StatedFactors f)
    {
        string text = $"a {FactorWords.Of(f.Size)} {FactorWords.Of(f.Colour)} {FactorWords.Of(f.Shape)} {FactorWords.Of(f.Motion)}";
        if (f.Speed is { } speed) text += " " + FactorWords.Of(speed);
        if (f.Background is { } background) text += $" {Over} {FactorWords.Of(background)} {BackgroundWord}";
        return text;
    }

    /// <summary>The factors a caption states; a TurboException names the caption when it is not one of ours.</summary>
    public static StatedFactors Parse(string caption)
    {
        var match = Grammar.Match(caption.Trim());
        if (!match.Success)
            throw new TurboException($"caption \"{caption}\": expected \"a <size> <colour> <shape> <motion> [slowly|quickly] [over a <colour> background]\" in the Shapes vocabulary");
        var stated = new StatedFactors(
            (ShapeKind)ClassOf(Factor.Shape, match.Groups["shape"].Value),
            (ShapeColour)ClassOf(Factor.Colour, match.Groups["colour"].Value),
            (ShapeSize)ClassOf(Factor.Size, match.Groups["size"].Value),
            (Motion)ClassOf(Factor.Motion, match.Groups["motion"].Value),
            match.Groups["background"].Success ? (Backdrop)ClassOf(Factor.Background, match.Groups["background"].Value) : null,
            match.Groups["speed"].Success ? (Speed)ClassOf(Factor.Speed, match.Groups["speed"].Value) : null);
        if (!FactorRules.IsValid(stated.Shape, stated.Motion))
            throw new TurboException($"caption \"{caption}\": a {FactorWords.Of(stated.Shape)} cannot {FactorWords.Of(stated.Motion)} visibly");
        if (stated.Speed is not null && !FactorRules.HasSpeed(stated.Motion))
            throw new TurboException($"caption \"{caption}\": \"{FactorWords.Of(stated.Motion)}\" takes no speed");
        return stated;
    }

    /// <summary>Every word a caption can contain, sorted (ordinal), for a word-level tokenizer.</summary>
    public static IReadOnlyList<string> Vocabulary() =>
        FactorRules.All.SelectMany(FactorWords.Phrases).Append("a").Append(Over).Append(BackgroundWord)
            .SelectMany(phrase => phrase.Split(' ')).Distinct().Order(StringComparer.Ordinal).ToArray();

    static string Alternatives(Factor factor) => string.Join("|", FactorWords.Phrases(factor).Select(Regex.Escape));

    static int ClassOf(Factor factor, string phrase) => FactorWords.Phrases(factor).ToList().IndexOf(phrase);
}
