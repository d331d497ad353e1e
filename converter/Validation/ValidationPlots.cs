using ScottPlot;
using Turbo.Runtime.Video;

namespace Turbo.Converter.Validation;

/// <summary>The report's charts as PNG bytes (ScottPlot): PSNR per prompt, and time per step and end to end.</summary>
public static class ValidationPlots
{
    const int Width = 560, Height = 320;
    const string FontName = "Turbo Caption";
    static readonly Lazy<string?> Font = new(RegisterFont);

    /// <summary>
    /// ScottPlot draws text with SkiaSharp, whose Linux build here has no font manager: the captions' font file is
    /// registered with it by name, else titles and labels would not be drawn.
    /// </summary>
    static string? RegisterFont()
    {
        if (CaptionFont.FilePath is not { } file) return null;
        Fonts.AddFontFile(FontName, file);
        return FontName;
    }

    public static byte[] PsnrPerPrompt(ValidationReport report)
    {
        var plot = NewPlot("PSNR of the package's clip against the teacher's", "dB");
        // +∞ (identical clips) has no bar height: such prompts are drawn at the finite maximum and said so in the table.
        double finiteMax = report.Prompts.Select(p => p.PsnrDb).Where(double.IsFinite).DefaultIfEmpty(0).Max();
        var values = report.Prompts.Select(p => double.IsFinite(p.PsnrDb) ? p.PsnrDb : finiteMax).ToArray();
        plot.Add.Bars(values);
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, values.Length).Select(i => (double)i).ToArray(),
            Enumerable.Range(1, values.Length).Select(i => $"prompt {i}").ToArray());
        plot.Axes.Margins(bottom: 0);
        return Png(plot);
    }

    public static byte[] Timings(ValidationReport report)
    {
        var plot = NewPlot("time per clip (median), seconds", "s");
        var s = report.Speed;
        double[] teacher = [s.Teacher.SecondsPerStep, s.Teacher.DenoiseSeconds, s.Teacher.EndToEndSeconds];
        double[] package = [s.Package.SecondsPerStep, s.Package.DenoiseSeconds, s.Package.EndToEndSeconds];
        var bars = new List<Bar>();
        for (int i = 0; i < 3; i++)
        {
            bars.Add(new Bar { Position = 3 * i, Value = teacher[i], FillColor = Colors.SteelBlue });
            bars.Add(new Bar { Position = 3 * i + 1, Value = package[i], FillColor = Colors.DarkOrange });
        }
        plot.Add.Bars(bars);
        plot.Axes.Bottom.SetTicks([0.5, 3.5, 6.5], ["one step", "denoising", "end to end"]);
        plot.Legend.IsVisible = true;
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "teacher", FillColor = Colors.SteelBlue });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "package", FillColor = Colors.DarkOrange });
        plot.Legend.Alignment = Alignment.UpperLeft;
        plot.Axes.Margins(bottom: 0);
        return Png(plot);
    }

    static Plot NewPlot(string title, string yLabel)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.YLabel(yLabel);
        if (Font.Value is { } name) plot.Font.Set(name);
        return plot;
    }

    static byte[] Png(Plot plot) => plot.GetImageBytes(Width, Height, ImageFormat.Png);
}
