using System.Globalization;
using System.Net;
using System.Text;
using Turbo.Converter.Files;
using Turbo.Runtime;
using Turbo.Runtime.Video;

namespace Turbo.Converter.Validation;

/// <summary>
/// The validation report as one self-contained HTML file (charts and animated previews inline as base64): verdict,
/// speed, quality, gates, every prompt, and each prompt's clips side by side, teacher | package.
/// </summary>
public static class ValidationHtml
{
    const double PreviewFps = 8;
    /// <summary>Small clips are enlarged (whole pixels) to at least this many pixels a side in the previews.</summary>
    const int PreviewSide = 128;

    /// <summary>
    /// Writes the report to <paramref name="path"/> (atomically). Charts and captions are drawn with SkiaSharp and a
    /// TrueType font: where this machine has no font (a bare GPU server), the charts are left out and the previews
    /// have no captions, and the report says so. Where SkiaSharp's native library cannot be loaded, a
    /// <see cref="TurboException"/> says so instead of a crash, and nothing is written (callers write report.json
    /// first, so no result is lost).
    /// </summary>
    public static void Write(string path, ValidationRun run) => Write(path, run, drawText: CaptionFont.IsAvailable);

    /// <param name="drawText">false: as on a machine without fonts (no charts, uncaptioned previews)</param>
    public static void Write(string path, ValidationRun run, bool drawText)
    {
        try { WriteHtml(path, run, drawText); }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException)
        {
            var cause = e;
            while (cause.InnerException is not null) cause = cause.InnerException;
            throw new TurboException($"validation report {path}: drawing its charts and previews needs SkiaSharp's native library, " +
                $"which could not be loaded ({cause.Message.Split('\n')[0].Trim()})");
        }
    }

    static void WriteHtml(string path, ValidationRun run, bool drawText)
    {
        var r = run.Report;
        var html = new StringBuilder();
        html.Append($$"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Validation of {{E(Path.GetFileName(r.Package))}}</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
            table { border-collapse: collapse; margin: 0.5em 0 1.5em; } th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
            th:first-child, td:first-child, .text { text-align: left; } th { background: #f3f3f3; }
            .pass { color: #176b2c; font-weight: bold; } .fail { color: #b3261e; font-weight: bold; }
            .previews { display: flex; flex-wrap: wrap; gap: 12px; } .previews figure { margin: 0; }
            img.preview { image-rendering: pixelated; } small { color: #666; }
            </style></head><body>
            <h1>Validation of {{E(Path.GetFileName(r.Package))}}</h1>
            <p>package <code>{{E(r.Package)}}</code><br>teacher <code>{{E(r.Teacher)}}</code><br>
            {{r.Prompts.Count}} prompt(s), seed {{r.Seed}}, clips of {{r.Frames}} frames {{r.Width}}×{{r.Height}}, on {{E(r.Device)}}, {{r.Date:yyyy-MM-dd HH:mm}} UTC</p>
            <p>Verdict: {{Verdict(r)}}</p>
            """);

        var s = r.Speed;
        html.Append("<h2>Speed</h2><table><tr><th></th><th>sampler</th><th>forwards / step</th><th>s / step</th><th>denoising s</th><th>text s</th><th>decode s</th><th>end to end s</th></tr>");
        foreach (var (who, speed) in new[] { ("teacher", s.Teacher), ("package", s.Package) })
            html.Append($"<tr><td>{who}</td><td>{E(speed.Solver)} × {speed.Steps}</td><td>{speed.ForwardsPerStep}</td><td>{F(speed.SecondsPerStep, "F3")}</td><td>{F(speed.DenoiseSeconds, "F2")}</td><td>{F(speed.EncodeSeconds, "F2")}</td><td>{F(speed.DecodeSeconds, "F2")}</td><td>{F(speed.EndToEndSeconds, "F2")}</td></tr>");
        html.Append($"<tr><td>speed-up</td><td></td><td></td><td></td><td>{F(s.DenoiseSpeedup, "F2")}×</td><td></td><td></td><td>{F(s.EndToEndSpeedup, "F2")}×</td></tr></table>");
        html.Append("<p><small>Medians over the prompts, one clip at a time (batch 1); wall time on this machine.</small></p>");

        var q = r.Quality;
        html.Append("<h2>Quality</h2><table><tr><th>package against teacher</th><th>value</th></tr>");
        html.Append($"<tr><td>mean PSNR</td><td>{Db(q.MeanPsnrDb)}</td></tr><tr><td>lowest PSNR</td><td>{Db(q.MinPsnrDb)}</td></tr><tr><td>mean SSIM</td><td>{F(q.MeanSsim, "F4")}</td></tr></table>");
        if (q.Judge is { } j)
        {
            html.Append($"<table><tr><th>{E(j.Judge)}</th><th>prompt adherence</th><th>Fréchet distance</th></tr>");
            html.Append($"<tr><td>teacher</td><td>{F(j.Teacher.Adherence, "P1")}</td><td>{F(j.Teacher.Frechet, "F1")}</td></tr>");
            html.Append($"<tr><td>package</td><td>{F(j.Package.Adherence, "P1")}</td><td>{F(j.Package.Frechet, "F1")}</td></tr>");
            html.Append($"<tr><td>real clips (ceiling)</td><td>{F(j.Teacher.RealAdherence, "P1")}</td><td>{F(j.Teacher.RealFrechet, "F1")}</td></tr></table>");
            html.Append($"<p><small>Adherence drop teacher → package: {F(j.AdherenceDrop, "F3")}. A Fréchet distance over {r.Prompts.Count} clips is indicative only.</small></p>");
        }
        else html.Append("<p><small>No quality judge applies to this teacher (--judge): PSNR and SSIM against the teacher only.</small></p>");

        if (r.Gates.Count > 0)
        {
            html.Append("<h2>Gates</h2><table><tr><th>gate</th><th>threshold</th><th>value</th><th>result</th></tr>");
            foreach (var g in r.Gates)
                html.Append($"<tr><td>{E(g.Name)} <small>{E(g.Option)}</small></td><td>{F(g.Threshold, "G4")}</td><td>{F(g.Value, "F3")}</td><td class=\"{(g.Passed ? "pass" : "fail")}\">{(g.Passed ? "passed" : "failed")}</td></tr>");
            html.Append("</table>");
        }

        html.Append("<h2>Prompts</h2><table><tr><th>#</th><th class=\"text\">prompt</th><th>PSNR dB</th><th>SSIM</th><th>teacher s</th><th>package s</th></tr>");
        for (int i = 0; i < r.Prompts.Count; i++)
        {
            var p = r.Prompts[i];
            html.Append($"<tr><td>{i + 1}</td><td class=\"text\">{E(p.Prompt)}</td><td>{Db(p.PsnrDb)}</td><td>{F(p.Ssim, "F4")}</td><td>{F(p.TeacherSeconds, "F2")}</td><td>{F(p.PackageSeconds, "F2")}</td></tr>");
        }
        html.Append("</table>");

        html.Append("<h2>Charts</h2>");
        if (drawText)
        {
            html.Append($"<img alt=\"PSNR per prompt\" src=\"data:image/png;base64,{Convert.ToBase64String(ValidationPlots.PsnrPerPrompt(r))}\"> ");
            html.Append($"<img alt=\"timings\" src=\"data:image/png;base64,{Convert.ToBase64String(ValidationPlots.Timings(r))}\">");
        }
        else html.Append($"<p>{NoFontNote}</p>");

        html.Append("<h2>Previews: teacher | package</h2><div class=\"previews\">");
        int scale = Math.Clamp((PreviewSide + r.Width - 1) / r.Width, 1, 8);
        for (int i = 0; i < r.Prompts.Count; i++)
        {
            var clips = new List<CaptionedClip>
            {
                new("teacher", VideoFrames.FromClip(run.TeacherClips[i])),
                new($"package, {Db(r.Prompts[i].PsnrDb)} dB", VideoFrames.FromClip(run.PackageClips[i])),
            };
            var gif = GifWriter.Encode(new ClipGrid(clips, columns: 2, scale, captions: drawText).Animate(), PreviewFps, $"preview of prompt {i + 1}");
            html.Append($"<figure><img class=\"preview\" alt=\"prompt {i + 1}\" src=\"data:image/gif;base64,{Convert.ToBase64String(gif)}\"><figcaption>{i + 1}. {E(r.Prompts[i].Prompt)}</figcaption></figure>");
        }
        html.Append("</div></body></html>\n");
        AtomicFile.WriteAllText(path, html.ToString());
    }

    /// <summary>What the report says where no font could draw its charts and captions.</summary>
    public const string NoFontNote = "Charts and preview captions are not drawn: this machine has no TrueType font (on Debian: fonts-dejavu-core). " +
        "The numbers are in the tables above and in report.json; each preview is teacher (left) | package (right).";

    static string Verdict(ValidationReport r) => r.Gates.Count == 0 ? "no gates set"
        : r.Passed ? "<span class=\"pass\">every gate passed</span>"
        : $"<span class=\"fail\">{E(string.Join("; ", r.Gates.Where(g => !g.Passed).Select(g => "gate failed: " + g.Line)))}</span>";

    static string Db(double value) => double.IsPositiveInfinity(value) ? "∞ (identical)" : F(value, "F2");

    static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    static string E(string text) => WebUtility.HtmlEncode(text);
}
