using System.Text;
using System.Text.RegularExpressions;

namespace Turbo.Quantizer.Selection;

/// <summary>
/// A glob over dotted layer names: <c>*</c> = any characters within one name segment (no '.'), <c>**</c> = any
/// characters across segments, <c>?</c> = one character other than '.', <c>{a,b}</c> = either alternative.
/// The whole name must match. Example: <c>blocks.*.self_attn.{q,k,v,o}</c>.
/// </summary>
public sealed class GlobPattern
{
    readonly Regex _regex;

    public GlobPattern(string pattern)
    {
        if (string.IsNullOrWhiteSpace(pattern)) throw new Runtime.TurboException("layer pattern: empty pattern");
        Text = pattern;
        _regex = new Regex("^" + Translate(pattern) + "$", RegexOptions.CultureInvariant);
    }

    public string Text { get; }

    public bool Matches(string name) => _regex.IsMatch(name);

    static string Translate(string pattern)
    {
        var regex = new StringBuilder();
        int depth = 0;
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            switch (c)
            {
                case '*' when i + 1 < pattern.Length && pattern[i + 1] == '*':
                    regex.Append(".*");
                    i++;
                    break;
                case '*': regex.Append(@"[^.]*"); break;
                case '?': regex.Append(@"[^.]"); break;
                case '{': regex.Append("(?:"); depth++; break;
                case '}' when depth > 0: regex.Append(')'); depth--; break;
                case ',' when depth > 0: regex.Append('|'); break;
                case '}': throw new Runtime.TurboException($"layer pattern '{pattern}': '}}' without '{{'");
                default: regex.Append(Regex.Escape(c.ToString())); break;
            }
        }
        if (depth != 0) throw new Runtime.TurboException($"layer pattern '{pattern}': '{{' without '}}'");
        return regex.ToString();
    }
}
