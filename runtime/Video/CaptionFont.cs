using SkiaSharp;

namespace Turbo.Runtime.Video;

/// <summary>
/// The typeface captions are drawn in. The Linux SkiaSharp build we ship (NativeAssets.Linux.NoDependencies, which
/// needs no fontconfig) has no font manager: its default typeface has no glyphs and draws nothing. So where the default
/// is empty a font file is loaded by path: DejaVu Sans (Debian's fonts-dejavu-core) if present, else the first
/// TrueType font found.
/// </summary>
public static class CaptionFont
{
    const string DejaVuSans = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

    static readonly string[] FontFolders = ["/usr/share/fonts", "/usr/local/share/fonts"];

    static readonly Lazy<(SKTypeface? Typeface, string? File)> Loaded = new(Load);

    /// <summary>Whether captions can be drawn here: SkiaSharp's default typeface has glyphs, or a TrueType font file was found.</summary>
    public static bool IsAvailable => Loaded.Value.Typeface is not null;

    public static SKTypeface Typeface =>
        Loaded.Value.Typeface ?? throw new TurboException("captions: no TrueType font found (install Debian's fonts-dejavu-core)");

    /// <summary>The font file the typeface was loaded from; null where SkiaSharp's default typeface has glyphs or no font was found.</summary>
    public static string? FilePath => Loaded.Value.File;

    static (SKTypeface?, string?) Load()
    {
        if (SKTypeface.Default.GlyphCount > 0) return (SKTypeface.Default, null);
        var candidates = new[] { DejaVuSans }.Where(File.Exists).Concat(FontFolders.Where(Directory.Exists)
            .SelectMany(folder => Directory.EnumerateFiles(folder, "*.ttf", SearchOption.AllDirectories).Order(StringComparer.Ordinal)));
        foreach (string file in candidates)
        {
            var typeface = SKTypeface.FromFile(file);
            if (typeface is { GlyphCount: > 0 }) return (typeface, file);
            typeface?.Dispose();
        }
        return (null, null);
    }
}
