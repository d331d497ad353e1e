using Turbo.Runtime.IO;

namespace Turbo.Converter.Families;

/// <summary>
/// Recognises a model family from tensor names alone (a header read, no tensor data). Every known family has one,
/// even those the converter cannot convert yet, so an unknown checkpoint gets a "closest family" answer.
/// </summary>
public interface IFamilySignature
{
    /// <summary>Short id used on the command line and in reports, e.g. "wan2.1".</summary>
    string Family { get; }

    /// <summary>Human description, e.g. "Wan2.1 text-to-video DiT".</summary>
    string Description { get; }

    IReadOnlyList<NamingSignature> Namings { get; }
}

public static class FamilySignatures
{
    /// <summary>The best-fitting naming of <paramref name="family"/> for these tensors.</summary>
    public static FamilyMatch Match(this IFamilySignature family, IReadOnlyList<TensorInfo> tensors)
    {
        FamilyMatch? best = null;
        foreach (var naming in family.Namings)
        {
            int matched = naming.Patterns.Count(p =>
                tensors.Any(t => t.Name.StartsWith(naming.Prefix, StringComparison.Ordinal)
                                 && p.Matches(t.Name[naming.Prefix.Length..])));
            var unmatched = tensors.Where(t => !naming.Explains(t.Name)).Select(t => t.Name).ToArray();
            var match = new FamilyMatch(family, naming.Naming, matched, naming.Patterns.Count, unmatched);
            if (best is null || match.Score > best.Score
                || (match.Score == best.Score && match.UnmatchedNames.Count < best.UnmatchedNames.Count))
                best = match;
        }
        return best ?? throw new InvalidOperationException($"family {family.Family} has no naming signatures");
    }
}
