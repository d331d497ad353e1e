using Turbo.Converter.Families.Signatures;
using Turbo.Converter.Families.Wan;
using Turbo.Runtime;
using Turbo.Runtime.IO;

namespace Turbo.Converter.Families;

/// <summary>
/// Every family the converter knows. Adding a family = adding its signature here (and, once it converts, making it
/// an <see cref="IFamilyAdapter"/>).
/// </summary>
public static class FamilyRegistry
{
    /// <summary>
    /// A family is recognised when this share of its signature names is present. Below 1 on purpose: a checkpoint
    /// missing a tensor or two should get "tensor X is missing" from the adapter, not "unknown family".
    /// </summary>
    public const double RecognitionThreshold = 0.6;

    public static IReadOnlyList<IFamilySignature> Known { get; } =
    [
        new Wan21T2VAdapter(),
        new CogVideoXSignature(),
        new HunyuanVideoSignature(),
        new LtxVideoSignature(),
    ];

    /// <summary>The best-fitting family and naming; TurboException when none is recognised.</summary>
    public static FamilyMatch Detect(IReadOnlyList<TensorInfo> tensors, string source)
    {
        if (tensors.Count == 0)
            throw new TurboException($"{source}: the checkpoint holds no tensors");
        var best = Known.Select(f => f.Match(tensors))
            .OrderByDescending(m => m.Score)
            .ThenBy(m => m.UnmatchedNames.Count)
            .First();
        if (best.Score >= RecognitionThreshold) return best;
        var unmatched = best.UnmatchedNames.Take(5).Select(n => $"'{n}'");
        throw new TurboException(
            $"{source}: unknown model family ({tensors.Count} tensors); names no known layout explains: {string.Join(", ", unmatched)}"
            + (best.UnmatchedNames.Count > 5 ? ", ..." : "")
            + (best.MatchedPatterns == 0
                ? $"; no known family ({string.Join(", ", Known.Select(f => f.Family))}) matches any of its signature names"
                : $"; closest: {best.Describe()}"));
    }

    /// <summary>The adapter of a detected family; TurboException for families that are only recognised.</summary>
    public static IFamilyAdapter AdapterFor(FamilyMatch match, string source) =>
        match.Family as IFamilyAdapter
        ?? throw new TurboException(
            $"{source}: recognised as {match.Family.Description}, {match.Describe()}; converting this family is not implemented yet (supported: "
            + string.Join(", ", Known.OfType<IFamilyAdapter>().Select(a => a.Family)) + ")");
}
