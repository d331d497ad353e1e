using SkiaSharp;

namespace Turbo.Runtime.Video;

/// <summary>
/// Lays clips of one size out in rows of <see cref="Columns"/> cells, each clip with its caption in a strip below it
/// (or without captions, where no font can draw them),
/// for a person to compare generated videos side by side: <see cref="Animate"/> gives the grid as frames (for
/// <see cref="GifWriter"/>, <see cref="Mp4Writer"/>, <see cref="VideoFile"/>), <see cref="ContactSheet"/> one still.
/// Small clips can be enlarged by an integer <c>scale</c> (each pixel repeated, so nothing is blurred).
/// </summary>
public sealed class ClipGrid
{
    /// <summary>Pixels between cells and around the edge.</summary>
    public const int Gap = 4;

    /// <summary>Height of the caption strip under every clip.</summary>
    public const int CaptionHeight = 40;

    /// <summary>Margin on each side of a caption inside its strip.</summary>
    const int CaptionMargin = 2;

    static readonly SKColor Background = new(24, 24, 24), CaptionColour = new(235, 235, 235);

    readonly IReadOnlyList<CaptionedClip> _clips;
    readonly int _scale;
    readonly int _captionHeight;

    public int Columns { get; }
    public int Rows { get; }

    /// <summary>Width and height of a clip in the grid (its frames' size times the scale).</summary>
    public int CellWidth { get; }
    public int CellHeight { get; }

    /// <summary>Size of the whole grid.</summary>
    public int Width => Columns * CellWidth + (Columns + 1) * Gap;
    public int Height => Rows * (CellHeight + _captionHeight) + (Rows + 1) * Gap;

    /// <summary>
    /// The grid of <paramref name="clips"/> (at least one, all frames of one size) in <paramref name="columns"/>
    /// columns, fewer when there are fewer clips; <paramref name="captions"/> false leaves the caption strips out.
    /// </summary>
    public ClipGrid(IReadOnlyList<CaptionedClip> clips, int columns, int scale = 1, bool captions = true)
    {
        if (clips.Count == 0) throw new TurboException("grid: no clips");
        if (columns < 1) throw new TurboException($"grid: columns must be at least 1, got {columns}");
        if (scale < 1) throw new TurboException($"grid: scale must be at least 1, got {scale}");
        for (int i = 0; i < clips.Count; i++)
        {
            RgbFrame.RequireClip(clips[i].Frames, $"grid clip {i} ({clips[i].Caption})");
            RgbFrame first = clips[0].Frames[0], frame = clips[i].Frames[0];
            if (frame.Width != first.Width || frame.Height != first.Height)
                throw new TurboException($"grid: clip {i} is {frame.Width}×{frame.Height} but clip 0 is {first.Width}×{first.Height}; all clips must be one size");
        }
        _clips = clips;
        _scale = scale;
        _captionHeight = captions ? CaptionHeight : 0;
        Columns = Math.Min(columns, clips.Count);
        Rows = (clips.Count + Columns - 1) / Columns;
        CellWidth = clips[0].Frames[0].Width * scale;
        CellHeight = clips[0].Frames[0].Height * scale;
    }

    /// <summary>Top-left corner of clip <paramref name="index"/>'s cell; its caption strip starts CellHeight below.</summary>
    public (int X, int Y) CellOrigin(int index) =>
        (Gap + index % Columns * (CellWidth + Gap), Gap + index / Columns * (CellHeight + _captionHeight + Gap));

    /// <summary>
    /// One grid frame per frame of the longest clip (shorter clips hold their last frame), made as they are enumerated:
    /// a grid of large clips is large, and the writers need only one frame at a time.
    /// </summary>
    public IEnumerable<RgbFrame> Animate()
    {
        var background = DrawBackground();
        int length = _clips.Max(clip => clip.Frames.Count);
        for (int t = 0; t < length; t++)
            yield return Compose(background, clip => clip.Frames[Math.Min(t, clip.Frames.Count - 1)]);
    }

    /// <summary>One still: the middle frame of every clip.</summary>
    public RgbFrame ContactSheet() => Compose(DrawBackground(), clip => clip.Frames[clip.Frames.Count / 2]);

    RgbFrame Compose(RgbFrame background, Func<CaptionedClip, RgbFrame> pick)
    {
        var grid = new RgbFrame(Width, Height, (byte[])background.Pixels.Clone());
        for (int i = 0; i < _clips.Count; i++)
        {
            var (x, y) = CellOrigin(i);
            CopyScaled(pick(_clips[i]), grid, x, y);
        }
        return grid;
    }

    /// <summary>Copies <paramref name="source"/>, each pixel repeated scale × scale times, into <paramref name="target"/> at (x, y).</summary>
    void CopyScaled(RgbFrame source, RgbFrame target, int x, int y)
    {
        var row = new byte[3 * CellWidth];
        for (int sy = 0; sy < source.Height; sy++)
        {
            for (int sx = 0; sx < source.Width; sx++)
                for (int repeat = 0; repeat < _scale; repeat++)
                    Array.Copy(source.Pixels, 3 * (sy * source.Width + sx), row, 3 * (sx * _scale + repeat), 3);
            for (int repeat = 0; repeat < _scale; repeat++)
                row.CopyTo(target.Pixels, 3 * ((y + sy * _scale + repeat) * target.Width + x));
        }
    }

    /// <summary>The grid with no clips in it: background and every caption, drawn once and shared by all frames.</summary>
    RgbFrame DrawBackground()
    {
        using var bitmap = new SKBitmap(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(Background);
            using var paint = new SKPaint { Color = CaptionColour, IsAntialias = true };
            for (int i = 0; i < _clips.Count && _captionHeight > 0; i++)
            {
                var (x, y) = CellOrigin(i);
                DrawCaption(canvas, paint, _clips[i].Caption, x, y + CellHeight);
            }
        }
        return SkiaFrames.FromBitmap(bitmap);
    }

    void DrawCaption(SKCanvas canvas, SKPaint paint, string caption, int x, int top)
    {
        float width = CellWidth - 2 * CaptionMargin;
        var (font, lines) = CaptionFit.Fit(caption, width, CaptionHeight - CaptionMargin);
        using (font)
        {
            float baseline = top + CaptionMargin - font.Metrics.Ascent;
            foreach (string line in lines)
            {
                canvas.DrawText(line, x + CellWidth / 2f, baseline, SKTextAlign.Center, font, paint);
                baseline += font.Spacing;
            }
        }
    }
}
