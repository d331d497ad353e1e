using System.Globalization;
using Turbo.Converter.Files;
using Turbo.Converter.Validation;
using Turbo.Runtime;
using static TorchSharp.torch;

namespace Turbo.Converter.Conversion;

/// <summary>
/// Validates the package the package stage wrote against its teacher (<see cref="Validator"/>) and writes
/// report.html and report.json into its folder. A failed gate does not stop the stage: it finishes, and the run
/// ends with <see cref="ValidationReport.GateFailedExitCode"/>.
/// </summary>
public sealed class ValidateStage(ValidationOptions options, Device device) : IConversionStage
{
    public const string HtmlFile = "report.html", JsonFile = "report.json";

    public string Name => "validate";

    public IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["prompts"] = options.Prompts.ToString(CultureInfo.InvariantCulture),
        ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
        ["prompt list"] = options.PromptList is { } list ? "sha256 " + StageMarker.Sha256(string.Join("\n", list)) : "judge's",
        ["judge"] = options.Judge,
        ["gate min PSNR"] = options.MinPsnr?.ToString("R", CultureInfo.InvariantCulture) ?? "none",
        ["gate max adherence drop"] = options.MaxAdherenceDrop?.ToString("R", CultureInfo.InvariantCulture) ?? "none",
    };

    public StageResult Run(StageContext context)
    {
        string package = context.Input.Package ?? throw new TurboException("validate: no package to validate (the package stage runs before it)");
        using var run = Validator.Run(package, context.Input.Teacher, options, device, context.Progress);
        string html = Path.Combine(context.Folder, HtmlFile), json = Path.Combine(context.Folder, JsonFile);
        AtomicFile.WriteAllText(json, run.Report.ToJson());   // first: the results survive a report that cannot be drawn
        ValidationHtml.Write(html, run);
        return new StageResult(context.Input, ValidationSummary.Lines(run.Report).Append(new("report", html)).ToList(),
            run.Report.Passed ? 0 : ValidationReport.GateFailedExitCode);
    }
}
