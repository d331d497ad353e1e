using Turbo.Runtime;
using Turbo.Runtime.Video;
using Turbo.Tests.Support;

namespace Turbo.Tests.Video;

public class ClipGridTests : TempFolderFixture
{
    static readonly (byte R, byte G, byte B) Background = (24, 24, 24);

    [Test]
    public void SizeFollowsColumnsRowsScaleGapAndCaption()
    {
        var grid = new ClipGrid(Clips(5, width: 16, height: 12, frames: 3), columns: 3, scale: 2);
        Assert.Multiple(() =>
        {
            Assert.That((grid.Columns, grid.Rows), Is.EqualTo((3, 2)));
            Assert.That((grid.CellWidth, grid.CellHeight), Is.EqualTo((32, 24)));
            Assert.That(grid.Width, Is.EqualTo(3 * 32 + 4 * ClipGrid.Gap));
            Assert.That(grid.Height, Is.EqualTo(2 * (24 + ClipGrid.CaptionHeight) + 3 * ClipGrid.Gap));
            Assert.That(grid.CellOrigin(4), Is.EqualTo((ClipGrid.Gap + 32 + ClipGrid.Gap, ClipGrid.Gap + 24 + ClipGrid.CaptionHeight + ClipGrid.Gap)));
        });
        var frames = grid.Animate().ToList();
        Assert.That(frames, Has.Count.EqualTo(3));
        Assert.That(frames.Select(f => (f.Width, f.Height)), Is.All.EqualTo((grid.Width, grid.Height)));
        var sheet = grid.ContactSheet();
        Assert.That((sheet.Width, sheet.Height), Is.EqualTo((grid.Width, grid.Height)));
    }

    /// <summary>Without captions (no font on the machine) the strips are left out and only background surrounds the cells.</summary>
    [Test]
    public void WithoutCaptionsTheStripsAreLeftOut()
    {
        var clips = Clips(3, width: 6, height: 5, frames: 1);
        var grid = new ClipGrid(clips, columns: 2, captions: false);
        Assert.That(grid.Height, Is.EqualTo(2 * 5 + 3 * ClipGrid.Gap));
        Assert.That(grid.CellOrigin(2), Is.EqualTo((ClipGrid.Gap, ClipGrid.Gap + 5 + ClipGrid.Gap)));
        var sheet = grid.ContactSheet();
        var inCells = Enumerable.Range(0, 3).SelectMany(i =>
        {
            var (x0, y0) = grid.CellOrigin(i);
            return Enumerable.Range(0, 5).SelectMany(y => Enumerable.Range(0, 6).Select(x => (x0 + x, y0 + y)));
        }).ToHashSet();
        for (int y = 0; y < sheet.Height; y++)
            for (int x = 0; x < sheet.Width; x++)
                if (!inCells.Contains((x, y)))
                    Assert.That(TestFrames.Pixel(sheet, x, y), Is.EqualTo(Background), $"({x}, {y}) outside the cells");
    }

    [Test]
    public void FewerClipsThanColumnsMakeOneRow()
    {
        var grid = new ClipGrid(Clips(2, 8, 8, 1), columns: 6);
        Assert.That((grid.Columns, grid.Rows), Is.EqualTo((2, 1)));
    }

    /// <summary>Every cell shows its clip's frame t (each pixel repeated scale × scale); a shorter clip holds its last frame.</summary>
    [Test]
    public void CellsShowTheirClipsFrameByFrame()
    {
        var clips = Clips(3, width: 5, height: 4, frames: 4);
        clips[2] = clips[2] with { Frames = clips[2].Frames.Take(2).ToList() };
        var grid = new ClipGrid(clips, columns: 2, scale: 3);
        var frames = grid.Animate().ToList();
        Assert.That(frames, Has.Count.EqualTo(4));
        for (int t = 0; t < 4; t++)
            for (int i = 0; i < 3; i++)
            {
                var expected = ColourOf(i, Math.Min(t, clips[i].Frames.Count - 1));
                var (x0, y0) = grid.CellOrigin(i);
                for (int y = 0; y < grid.CellHeight; y++)
                    for (int x = 0; x < grid.CellWidth; x++)
                        Assert.That(TestFrames.Pixel(frames[t], x0 + x, y0 + y), Is.EqualTo(expected), $"t={t} clip {i} at ({x}, {y})");
            }
    }

    [Test]
    public void ContactSheetShowsEveryClipsMiddleFrame()
    {
        var grid = new ClipGrid(Clips(4, 6, 6, frames: 5), columns: 4);
        var sheet = grid.ContactSheet();
        for (int i = 0; i < 4; i++)
        {
            var (x, y) = grid.CellOrigin(i);
            Assert.That(TestFrames.Pixel(sheet, x + 3, y + 3), Is.EqualTo(ColourOf(i, 2)), $"clip {i}");
        }
    }

    /// <summary>
    /// Each caption puts ink in its own strip and nowhere else: a long prompt, a word longer than the cell and an
    /// empty caption (whose strip must stay plain, which shows the check can fail).
    /// </summary>
    [Test]
    public void CaptionsAreDrawnInsideTheirStrips()
    {
        string[] captions =
        [
            "a red circle moves left",
            "a small green triangle bounces slowly from the top left corner to the bottom right corner on a blue background while rotating",
            new string('w', 200),
            "",
        ];
        var frames = Enumerable.Range(0, 1).Select(_ => TestFrames.Flat(48, 32, 0, 0, 0)).ToList();
        var grid = new ClipGrid(captions.Select(caption => new CaptionedClip(caption, frames)).ToList(), columns: 2);
        var sheet = grid.ContactSheet();
        var inStrips = new bool[sheet.Width, sheet.Height];
        for (int i = 0; i < captions.Length; i++)
        {
            var (x0, y0) = grid.CellOrigin(i);
            int ink = 0;
            for (int y = y0 + grid.CellHeight; y < y0 + grid.CellHeight + ClipGrid.CaptionHeight; y++)
                for (int x = x0; x < x0 + grid.CellWidth; x++)
                {
                    inStrips[x, y] = true;
                    if (TestFrames.Pixel(sheet, x, y) != Background) ink++;
                }
            if (captions[i].Length == 0) Assert.That(ink, Is.Zero, "empty caption");
            else Assert.That(ink, Is.GreaterThan(20), $"caption {i} drawn");
            for (int y = y0; y < y0 + grid.CellHeight; y++)
                for (int x = x0; x < x0 + grid.CellWidth; x++)
                    inStrips[x, y] = true; // the clip itself
        }
        for (int y = 0; y < sheet.Height; y++)
            for (int x = 0; x < sheet.Width; x++)
                if (!inStrips[x, y]) Assert.That(TestFrames.Pixel(sheet, x, y), Is.EqualTo(Background), $"gap pixel ({x}, {y})");
    }

    [Test]
    public void NoClipsAreRefused()
    {
        var error = Assert.Throws<TurboException>(() => new ClipGrid([], columns: 2));
        Assert.That(error!.Message, Is.EqualTo("grid: no clips"));
    }

    [Test]
    public void ClipsOfDifferentSizesAreRefused()
    {
        var clips = Clips(2, 8, 8, 2).Append(new CaptionedClip("big", [TestFrames.Flat(8, 9, 0, 0, 0)])).ToList();
        var error = Assert.Throws<TurboException>(() => new ClipGrid(clips, columns: 2));
        Assert.That(error!.Message, Does.Contain("clip 2 is 8×9 but clip 0 is 8×8"));
    }

    [Test]
    public void ClipWithoutFramesOrMixedFrameSizesIsRefused()
    {
        var empty = Assert.Throws<TurboException>(() => new ClipGrid([new CaptionedClip("none", [])], columns: 1));
        Assert.That(empty!.Message, Does.Contain("no frames"));
        var mixed = Assert.Throws<TurboException>(() => new ClipGrid([new CaptionedClip("mixed", [TestFrames.Flat(4, 4, 0, 0, 0), TestFrames.Flat(5, 4, 0, 0, 0)])], columns: 1));
        Assert.That(mixed!.Message, Does.Contain("frame 1 is 5×4"));
    }

    [TestCase(0, 1)]
    [TestCase(2, 0)]
    public void NonPositiveColumnsOrScaleAreRefused(int columns, int scale) =>
        Assert.Throws<TurboException>(() => new ClipGrid(Clips(1, 4, 4, 1), columns, scale));

    /// <summary>The grid goes through the GIF writer unchanged: its captions and a handful of flat colours fit one palette.</summary>
    [Test]
    public void GridRoundTripsThroughGif()
    {
        var grid = new ClipGrid(Clips(3, 16, 16, 2), columns: 3);
        var frames = grid.Animate().ToList();
        string path = Temp.PathTo("grid.gif");
        GifWriter.Write(path, frames, 8);
        var gif = DecodedGif.Read(path);
        Assert.That(gif.Frames, Has.Length.EqualTo(2));
        for (int t = 0; t < 2; t++)
        {
            var (x, y) = grid.CellOrigin(1);
            Assert.That(TestFrames.Pixel(gif.Frames[t], x + 8, y + 8), Is.EqualTo(ColourOf(1, t)));
        }
    }

    /// <summary>Clip i's frame t is one flat colour unique to (i, t).</summary>
    static (byte R, byte G, byte B) ColourOf(int clip, int frame) => ((byte)(40 + 50 * clip), (byte)(200 - 30 * frame), 90);

    static List<CaptionedClip> Clips(int count, int width, int height, int frames) =>
        Enumerable.Range(0, count).Select(i => new CaptionedClip($"clip {i}",
            Enumerable.Range(0, frames).Select(t => ColourOf(i, t)).Select(c => TestFrames.Flat(width, height, c.R, c.G, c.B)).ToList())).ToList();
}
