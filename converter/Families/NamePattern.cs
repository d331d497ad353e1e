using System.Text.RegularExpressions;

namespace Turbo.Converter.Families;

/// <summary>
/// A tensor-name pattern of a family signature: literal text where '#' stands for a block index (one or more
/// digits), e.g. "blocks.#.self_attn.q.weight". Patterns, not full names, so a signature fits every depth.
/// </summary>
public sealed class NamePattern
{
    readonly Regex _regex;

    public NamePattern(string pattern)
    {
        Text = pattern;
        _regex = new Regex("^" + Regex.Escape(pattern).Replace("\\#", "#").Replace("#", "[0-9]+") + "$",
            RegexOptions.CultureInvariant);
    }

    public string Text { get; }

    public bool Matches(string name) => _regex.IsMatch(name);

    public override string ToString() => Text;
}
