using SkiaSharp;

namespace Turbo.Runtime.Video;

/// <summary>
/// Fits a caption into a box: word-wrapped at the largest font size from <see cref="LargestSize"/> down to
/// <see cref="SmallestSize"/> whose lines all fit; at the smallest size the lines that fit are kept and the last one
/// ends in "…". Prompts run long, and a caption spilling into the next cell would be misread as that clip's.
/// </summary>
static class CaptionFit
{
    public const float LargestSize = 13, SmallestSize = 7;
    const string Ellipsis = "…";

    /// <summary>The font (caller disposes) and the lines to draw, each at most <paramref name="width"/> wide.</summary>
    public static (SKFont Font, IReadOnlyList<string> Lines) Fit(string caption, float width, float height)
    {
        for (float size = LargestSize; ; size--)
        {
            var font = new SKFont(CaptionFont.Typeface, size);
            int maxLines = Math.Max(1, (int)(height / font.Spacing));
            var lines = Wrap(caption, font, width);
            if (lines.Count <= maxLines) return (font, lines);
            if (size <= SmallestSize) return (font, Truncate(lines, maxLines, font, width));
            font.Dispose();
        }
    }

    /// <summary>Greedy word wrap; a word wider than a line is broken between characters.</summary>
    static List<string> Wrap(string caption, SKFont font, float width)
    {
        var lines = new List<string>();
        string line = "";
        foreach (string word in caption.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            string joined = line.Length == 0 ? word : line + " " + word;
            if (font.MeasureText(joined) <= width)
            {
                line = joined;
                continue;
            }
            if (line.Length > 0) lines.Add(line);
            line = word;
            while (font.MeasureText(line) > width && line.Length > 1)
            {
                int fits = Math.Max(1, LongestPrefixThatFits(line, font, width));
                lines.Add(line[..fits]);
                line = line[fits..];
            }
        }
        if (line.Length > 0) lines.Add(line);
        return lines;
    }

    static List<string> Truncate(List<string> lines, int maxLines, SKFont font, float width)
    {
        var kept = lines.Take(maxLines).ToList();
        string last = kept[^1];
        while (last.Length > 0 && font.MeasureText(last + Ellipsis) > width) last = last[..^1];
        kept[^1] = last.TrimEnd() + Ellipsis;
        return kept;
    }

    static int LongestPrefixThatFits(string text, SKFont font, float width)
    {
        int length = text.Length;
        while (length > 0 && font.MeasureText(text[..length]) > width) length--;
        return length;
    }
}
