using System.Globalization;
using Spectre.Console;

namespace Turbo.Converter.Validation;

/// <summary>A validation report for people at a terminal: its tables, and the few lines a run's summary shows.</summary>
public static class ValidationSummary
{
    public static IEnumerable<KeyValuePair<string, string>> Lines(ValidationReport r)
    {
        var s = r.Speed;
        yield return new("speed", I($"{s.Teacher.SecondsPerStep:F3} → {s.Package.SecondsPerStep:F3} s/step; end to end {s.Teacher.EndToEndSeconds:F1} → {s.Package.EndToEndSeconds:F1} s ({s.EndToEndSpeedup:F2}×)"));
        yield return new("quality", I($"PSNR {Db(r.Quality.MeanPsnrDb)} dB (lowest {Db(r.Quality.MinPsnrDb)}), SSIM {r.Quality.MeanSsim:F4} over {r.Prompts.Count} prompt(s)"));
        if (r.Quality.Judge is { } j)
            yield return new(j.Judge, I($"adherence {j.Teacher.Adherence:P1} → {j.Package.Adherence:P1}, Fréchet {j.Teacher.Frechet:F1} → {j.Package.Frechet:F1} (real: {j.Teacher.RealAdherence:P1}, {j.Teacher.RealFrechet:F1})"));
        foreach (var g in r.Gates) yield return new("gate", (g.Passed ? "passed: " : "FAILED: ") + g.Line);
    }

    public static void Render(ValidationReport r, IAnsiConsole console)
    {
        var speed = new Table().Border(TableBorder.Rounded).Title("speed (median per clip, batch 1)")
            .AddColumns("", "sampler", "fwd/step", "s/step", "denoise s", "end to end s");
        foreach (var (who, x) in new[] { ("teacher", r.Speed.Teacher), ("package", r.Speed.Package) })
            speed.AddRow(new Text(who), new Text($"{x.Solver} × {x.Steps}"), new Text(x.ForwardsPerStep.ToString(CultureInfo.InvariantCulture)),
                new Text(I($"{x.SecondsPerStep:F3}")), new Text(I($"{x.DenoiseSeconds:F2}")), new Text(I($"{x.EndToEndSeconds:F2}")));
        speed.AddRow(new Text("speed-up"), new Text(""), new Text(""), new Text(""), new Text(I($"{r.Speed.DenoiseSpeedup:F2}×")), new Text(I($"{r.Speed.EndToEndSpeedup:F2}×")));
        console.Write(speed);

        var quality = new Table().Border(TableBorder.Rounded).Title("quality: package against teacher").AddColumns("#", "prompt", "PSNR dB", "SSIM");
        for (int i = 0; i < r.Prompts.Count; i++)
            quality.AddRow(new Text((i + 1).ToString(CultureInfo.InvariantCulture)), new Text(r.Prompts[i].Prompt),
                new Text(Db(r.Prompts[i].PsnrDb)), new Text(I($"{r.Prompts[i].Ssim:F4}")));
        quality.AddRow(new Text(""), new Text("mean"), new Text(Db(r.Quality.MeanPsnrDb)), new Text(I($"{r.Quality.MeanSsim:F4}")));
        console.Write(quality);

        if (r.Quality.Judge is { } j)
        {
            var judged = new Table().Border(TableBorder.Rounded).Title(j.Judge).AddColumns("clips", "prompt adherence", "Fréchet distance");
            judged.AddRow("teacher", I($"{j.Teacher.Adherence:P1}"), I($"{j.Teacher.Frechet:F1}"));
            judged.AddRow("package", I($"{j.Package.Adherence:P1}"), I($"{j.Package.Frechet:F1}"));
            judged.AddRow("real (ceiling)", I($"{j.Teacher.RealAdherence:P1}"), I($"{j.Teacher.RealFrechet:F1}"));
            console.Write(judged);
        }
    }

    static string Db(double value) => double.IsPositiveInfinity(value) ? "∞" : value.ToString("F2", CultureInfo.InvariantCulture);

    static string I(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
