using System.Diagnostics;
using System.Globalization;

namespace Turbo.Runtime.Video;

/// <summary>
/// Writes frames as an H.264 MP4 by piping raw RGB24 into the <c>ffmpeg</c> program found on PATH (no H.264 encoder
/// is available as a .NET package). The output is yuv420p, which every player decodes; that format needs even
/// sizes, so odd frames get one black row or column added at the bottom or right (added, not scaled: no blur).
/// </summary>
public static class Mp4Writer
{
    const string Program = "ffmpeg";

    /// <summary>Whether an executable <c>ffmpeg</c> is on PATH.</summary>
    public static bool IsAvailable => FindOnPath() is not null;

    /// <summary>
    /// Writes <paramref name="frames"/> (all one size, at least one) to <paramref name="path"/> through a temporary
    /// file; fails with a <see cref="TurboException"/> when ffmpeg is missing or reports an error.
    /// </summary>
    public static void Write(string path, IEnumerable<RgbFrame> frames, double fps)
    {
        if (!double.IsFinite(fps) || fps <= 0) throw new TurboException($"fps must be a positive number, got {fps}");
        string ffmpeg = FindOnPath() ?? throw new TurboException($"{path}: writing MP4 needs ffmpeg on PATH (Debian: apt-get install ffmpeg); .gif and .png need nothing");
        using var frame = frames.GetEnumerator();
        if (!frame.MoveNext()) throw new TurboException($"{path}: no frames");
        var first = frame.Current;
        AtomicOutput.WriteVia(path, temp =>
        {
            var start = new ProcessStartInfo(ffmpeg) { RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string argument in Arguments(first.Width, first.Height, fps, temp)) start.ArgumentList.Add(argument);
            using var process = Process.Start(start) ?? throw new TurboException($"{path}: could not start {ffmpeg}");
            var errors = process.StandardError.ReadToEndAsync(); // read alongside, or a chatty ffmpeg blocks on a full pipe
            try
            {
                var input = process.StandardInput.BaseStream;
                int index = 0;
                do
                {
                    RgbFrame.RequireSameSize(first, frame.Current, index++, path);
                    input.Write(frame.Current.Pixels);
                } while (frame.MoveNext());
                input.Close(); // end of input: ffmpeg finishes the file
            }
            catch (IOException)
            {
                process.WaitForExit(); // ffmpeg quit before taking every frame: its message tells why
                throw new TurboException($"{path}: ffmpeg stopped reading frames (exit code {process.ExitCode}): {LastLine(errors.Result)}");
            }
            catch
            {
                process.Kill(entireProcessTree: true); // a wrapper script's children too, or one could still write the temporary file
                process.WaitForExit();
                throw;
            }
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new TurboException($"{path}: ffmpeg failed (exit code {process.ExitCode}): {LastLine(errors.Result)}");
        });
    }

    /// <summary>ffmpeg's arguments: raw RGB24 frames of the given size on standard input, H.264 yuv420p MP4 to <paramref name="output"/>.</summary>
    public static IReadOnlyList<string> Arguments(int width, int height, double fps, string output) =>
    [
        "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", $"{width}x{height}", "-r", fps.ToString("R", CultureInfo.InvariantCulture), "-i", "-",
        "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
        "-f", "mp4", output, // the temporary file has no .mp4 extension to infer the format from
    ];

    static string? FindOnPath()
    {
        string? path = Environment.GetEnvironmentVariable("PATH");
        if (string.IsNullOrEmpty(path)) return null;
        string[] names = OperatingSystem.IsWindows() ? [Program + ".exe"] : [Program];
        return path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .SelectMany(folder => names.Select(name => Path.Combine(folder, name)))
            .FirstOrDefault(IsExecutable);
    }

    static bool IsExecutable(string file) =>
        File.Exists(file) && (OperatingSystem.IsWindows() || (File.GetUnixFileMode(file) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0);

    static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "no message";
}
