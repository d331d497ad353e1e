using Turbo.Converter.Validation;
using Turbo.Runtime;

namespace Turbo.Converter.Conversion;

/// <summary>Which prompts a stage uses: a file given by the user, else its judge's list; a few, spread over the list.</summary>
public static class PromptChoice
{
    /// <summary>The non-empty, trimmed lines of a prompts file (one prompt per line).</summary>
    public static IReadOnlyList<string> ReadFile(string path)
    {
        if (!File.Exists(path)) throw new TurboException($"{path}: prompts file not found");
        var prompts = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        if (prompts.Count == 0) throw new TurboException($"{path}: no prompts (expected one prompt per line)");
        return prompts;
    }

    /// <summary>
    /// <paramref name="count"/> prompts spread evenly over <paramref name="list"/> (its first, then every
    /// list.Count/count-th), so a few prompts still cover a list ordered by subject.
    /// </summary>
    public static IReadOnlyList<string> Spread(IReadOnlyList<string> list, int count, string what)
    {
        if (count < 1) throw new TurboException($"{what}: {count} prompts asked for; at least 1 is needed");
        if (count > list.Count) throw new TurboException($"{what}: {count} prompts asked for, the list has {list.Count}");
        return Enumerable.Range(0, count).Select(i => list[(int)((long)i * list.Count / count)]).ToList();
    }

    /// <summary>The list a stage draws from: the file if given, else the judge's, else a TurboException saying what to pass.</summary>
    public static IReadOnlyList<string> Source(string? file, IQualityJudge? judge, Func<IQualityJudge, IReadOnlyList<string>> judgeList, string option)
    {
        if (file is not null) return ReadFile(file);
        if (judge is not null) return judgeList(judge);
        throw new TurboException($"no prompts known for this teacher: pass {option} FILE (one prompt per line)");
    }
}
