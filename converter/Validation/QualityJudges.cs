using Turbo.Runtime;

namespace Turbo.Converter.Validation;

/// <summary>The judges this toolkit has, and the choice of one for a teacher (--judge).</summary>
public static class QualityJudges
{
    public const string Auto = "auto", None = "none";

    public static readonly IReadOnlyList<IQualityJudge> All = [new ShapesOracleJudge()];

    public static IReadOnlyList<string> Choices => [Auto, None, .. All.Select(j => j.Name)];

    /// <summary>auto: the first judge that recognizes the teacher (or none); none; or the judge of that name.</summary>
    public static IQualityJudge? Resolve(string choice, string teacher) => choice switch
    {
        Auto => All.FirstOrDefault(j => j.Recognizes(teacher)),
        None => null,
        _ => All.FirstOrDefault(j => j.Name == choice)
             ?? throw new TurboException($"--judge {choice}: expected one of {string.Join(", ", Choices)}"),
    };
}
