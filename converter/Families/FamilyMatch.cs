namespace Turbo.Converter.Families;

/// <summary>
/// How well one naming of one family fits a checkpoint's tensor names: the fraction of the family's signature
/// patterns that some tensor matches, and the tensor names no pattern of that naming explains.
/// </summary>
public sealed record FamilyMatch(
    IFamilySignature Family, string Naming, int MatchedPatterns, int TotalPatterns,
    IReadOnlyList<string> UnmatchedNames)
{
    public double Score => TotalPatterns == 0 ? 0 : (double)MatchedPatterns / TotalPatterns;

    public string Describe() =>
        $"{Family.Family} ({Naming} naming, {MatchedPatterns}/{TotalPatterns} signature names = {Score * 100:F0}%)";
}
