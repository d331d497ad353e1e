namespace Turbo.Runtime.Video;

/// <summary>Writes frames in the format that the output path's extension names.</summary>
public static class VideoFile
{
    /// <summary>The extensions <see cref="Write"/> accepts.</summary>
    public static readonly IReadOnlyList<string> Extensions = [".gif", ".mp4", ".png"];

    /// <summary>
    /// Writes <paramref name="frames"/> at <paramref name="fps"/> frames per second to <paramref name="path"/>:
    /// <c>.gif</c> an animated GIF (<see cref="GifWriter"/>), <c>.mp4</c> H.264 through ffmpeg (<see cref="Mp4Writer"/>),
    /// <c>.png</c> a single PNG when there is one frame, otherwise a new folder named as the path without ".png"
    /// holding frame_0000.png, frame_0001.png, … (<see cref="PngFrames.WriteFolder"/>; fps is then unused).
    /// Returns what was written: the file, or the folder of PNG frames.
    /// </summary>
    public static string Write(string path, IEnumerable<RgbFrame> frames, double fps)
    {
        CheckWritable(path);
        string extension = Path.GetExtension(path).ToLowerInvariant();
        switch (extension)
        {
            case ".gif":
                GifWriter.Write(path, frames, fps);
                return path;
            case ".mp4":
                Mp4Writer.Write(path, frames, fps);
                return path;
            case ".png":
                var all = RgbFrame.RequireClip(frames.ToList(), path);
                if (all.Count == 1)
                {
                    PngFrames.Write(path, all[0]);
                    return path;
                }
                string folder = Path.ChangeExtension(path, null);
                PngFrames.WriteFolder(folder, all);
                return folder;
            default:
                throw new InvalidOperationException("unreachable: CheckWritable accepted " + extension);
        }
    }

    /// <summary>
    /// Throws a TurboException unless <see cref="Write"/> can write <paramref name="path"/>: a known extension, its
    /// folder present, ffmpeg present for .mp4. Commands call it before long work, so a typo costs nothing.
    /// </summary>
    public static void CheckWritable(string path)
    {
        string extension = Path.GetExtension(path).ToLowerInvariant();
        if (!Extensions.Contains(extension))
            throw new TurboException($"{path}: {(extension.Length == 0 ? "no extension" : $"unknown video extension '{extension}'")} (accepted: {string.Join(", ", Extensions)})");
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(folder)) throw new TurboException($"{path}: the folder {folder} does not exist");
        if (extension == ".mp4" && !Mp4Writer.IsAvailable) throw new TurboException($"{path}: writing .mp4 needs ffmpeg on the PATH; write .gif or .png instead");
    }
}
