using System.CommandLine;
using Turbo.Converter.Cli;
using Turbo.Converter.Files;
using Turbo.Converter.Validation;
using Turbo.Runtime;

namespace Turbo.Converter.Commands;

/// <summary>
/// `validate PKG --against TEACHER`: speed and quality of the package against its teacher on the same prompts and
/// seeds; tables on the terminal, an HTML report and JSON on request; exit 3 when a gate fails.
/// </summary>
public static class ValidateCommand
{
    public static Command Create()
    {
        var package = new Argument<string>("package") { Description = "package folder (turbo.json)" };
        var against = new Option<string>("--against") { Description = "the teacher: its text-to-video folder (diffusers layout)", Required = true };
        var report = new Option<string?>("--report") { Description = "write the HTML report here (one self-contained file)" };
        var json = new Option<string?>("--json") { Description = "write the report as JSON here" };
        var options = new ValidateStageOptions();
        var device = CommonOptions.Device();
        var command = new Command("validate", "Compare a package with its teacher: speed (per step, end to end), quality (PSNR, SSIM, the judge's measures), gates.")
        {
            package, against, report, json, device,
        };
        foreach (var option in options.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            string? html = parse.GetValue(report), jsonPath = parse.GetValue(json);
            foreach (var (path, name) in new[] { (html, "--report"), (jsonPath, "--json") })
                if (path is not null && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(path))))
                    throw new TurboException($"{name} {path}: its folder does not exist");
            string teacher = parse.GetRequiredValue(against);
            var settings = options.Read(parse);
            Validator.Check(settings, teacher);
            var target = DeviceChoice.Resolve(parse.GetRequiredValue(device));
            using var run = SpectreStages.Run(CommandConsoles.ForProgress(parse),
                progress => Validator.Run(parse.GetRequiredValue(package), teacher, settings, target, progress));
            ValidationSummary.Render(run.Report, CommandConsoles.ForOutput(parse));
            if (jsonPath is not null) AtomicFile.WriteAllText(jsonPath, run.Report.ToJson());
            if (html is not null) ValidationHtml.Write(html, run);
            var output = CommandConsoles.Output(parse);
            foreach (var gate in run.Report.Gates.Where(g => g.Passed)) output.WriteLine("gate passed: " + gate.Line);
            if (html is not null) output.WriteLine($"wrote {html}");
            foreach (var gate in run.Report.Gates.Where(g => !g.Passed)) parse.InvocationConfiguration.Error.WriteLine("gate failed: " + gate.Line);
            return run.Report.Passed ? 0 : Validation.ValidationReport.GateFailedExitCode;
        });
        return command;
    }
}
