using SkiaSharp;

namespace Turbo.Runtime.Video;

/// <summary>Writes frames as lossless PNG files (SkiaSharp's encoder), one file per frame.</summary>
public static class PngFrames
{
    /// <summary>Writes one frame to <paramref name="path"/> through a temporary file.</summary>
    public static void Write(string path, RgbFrame frame)
    {
        byte[] png = Encode(frame);
        AtomicOutput.Write(path, stream => stream.Write(png));
    }

    /// <summary>
    /// Creates the folder <paramref name="folder"/> holding <c>frame_0000.png</c>, <c>frame_0001.png</c>, … (more digits
    /// when there are over 10000 frames). The frames go to a temporary folder beside it that is renamed when all are
    /// written, so a failure leaves nothing. An existing folder is refused rather than replaced: it may hold other files.
    /// </summary>
    public static void WriteFolder(string folder, IReadOnlyList<RgbFrame> frames)
    {
        RgbFrame.RequireClip(frames, folder);
        if (Directory.Exists(folder) || File.Exists(folder))
            throw new TurboException($"{folder}: already exists; remove it or choose another name for the frames");
        string temp = AtomicOutput.TempPathBeside(folder);
        try
        {
            Directory.CreateDirectory(temp);
            string digits = new('0', Math.Max(4, (frames.Count - 1).ToString().Length));
            for (int i = 0; i < frames.Count; i++)
                File.WriteAllBytes(Path.Combine(temp, $"frame_{i.ToString(digits)}.png"), Encode(frames[i]));
            Directory.Move(temp, folder);
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw;
        }
    }

    /// <summary>The PNG file bytes of one frame.</summary>
    public static byte[] Encode(RgbFrame frame)
    {
        using var bitmap = SkiaFrames.ToBitmap(frame);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, quality: 100);
        return data.ToArray();
    }
}
