using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Turbo.Converter.Cli;
using Turbo.Converter.Conversion;
using Turbo.Converter.Validation;
using Turbo.Runtime;
using Turbo.Runtime.Packaging;

namespace Turbo.Converter.Commands;

/// <summary>
/// `run TEACHER -o PKG`: the whole recipe over a diffusers-layout text-to-video folder, stage by stage in a work
/// folder (resumable with --resume), the package written atomically, a summary table at the end; exit 3 when a
/// validation gate fails.
/// </summary>
public static class RunCommand
{
    public static Command Create()
    {
        var teacher = new Argument<string>("teacher") { Description = "text-to-video model folder in diffusers layout (model_index.json, transformer/, text_encoder/, tokenizer/, vae/)" };
        var output = CommonOptions.Output("package folder to create (must not exist)");
        var work = new Option<string?>("--work") { Description = "work folder of the stages (default: the package path + .work)" };
        var resume = new Option<bool>("--resume") { Description = "continue the conversion in the work folder: skip finished stages, refuse changed settings" };
        var skipDistill = new Option<bool>("--skip-distill") { Description = "keep the teacher's sampler (no rCM student)" };
        var skipSparsify = new Option<bool>("--skip-sparsify") { Description = "keep dense self-attention (no SLA fine-tune)" };
        var skipRefine = new Option<bool>("--skip-refine") { Description = "no rCM continued on the sparse student after sparsify" };
        var skipQuantize = new Option<bool>("--skip-quantize") { Description = "package the weights unquantized" };
        var skipValidate = new Option<bool>("--skip-validate") { Description = "do not validate the package against the teacher" };
        var data = new TeacherDataOptions();
        var distill = new DistillStageOptions();
        var sparsify = new SparsifyStageOptions();
        var refine = new RefineStageOptions();
        var quantize = new QuantizeStageOptions("--calib-seed");
        var attention = PackageStageOptions.Attention();
        var validate = new ValidateStageOptions();
        var device = CommonOptions.Device();
        var command = new Command("run", "Convert a text-to-video teacher into a package: distill (rCM), sparsify (SLA), refine (rCM continued on the sparse student), quantize (W8A8), package, validate; resumable, each stage also a command.")
        {
            teacher, output, work, resume, skipDistill, skipSparsify, skipRefine, skipQuantize, skipValidate, attention, device,
        };
        foreach (var option in data.All.Concat(distill.All).Concat(sparsify.All).Concat(refine.All).Concat(quantize.All).Concat(validate.All)) command.Options.Add(option);
        command.SetAction(parse =>
        {
            string teacherPath = parse.GetRequiredValue(teacher), package = Path.GetFullPath(parse.GetRequiredValue(output));
            bool resuming = parse.GetValue(resume);
            if (!resuming) PackageWriter.CheckDestination(package);
            var target = DeviceChoice.Resolve(parse.GetRequiredValue(device));
            var validation = validate.Read(parse);
            var quantizeSettings = quantize.Read(parse);
            var judge = QualityJudges.Resolve(validation.Judge, teacherPath);
            var teacherData = data.Read(parse);
            var choices = new RecipeChoices(package, distill.Read(parse, teacherData), sparsify.Read(parse, teacherData), refine.Read(parse), quantizeSettings,
                parse.GetRequiredValue(attention), validation, judge, target)
            {
                SkipDistill = parse.GetValue(skipDistill), SkipSparsify = parse.GetValue(skipSparsify), SkipRefine = parse.GetValue(skipRefine),
                SkipQuantize = parse.GetValue(skipQuantize), SkipValidate = parse.GetValue(skipValidate),
            };
            // Settings, prompts and gates are checked now, not after an hour of training or calibration.
            if (!choices.SkipDistill) new DistillStage(choices.Distill, judge, target).Check();
            if (!choices.SkipSparsify) new SparsifyStage(choices.Sparsify, judge, target).Check();
            if (ConversionRecipe.Refines(choices)) new RefineStage(choices.Refine, choices.Distill, target).Check();
            PackageStage.Check(choices.Attention, choices.SkipSparsify ? null : choices.Sparsify);
            if (!choices.SkipQuantize) QuantizeStage.Prompts(quantizeSettings, judge);
            if (!choices.SkipValidate) Validator.Check(validation, teacherPath);

            var (folder, initial) = WorkFolder.Prepare(parse.GetValue(work) ?? WorkFolder.DefaultFor(package), teacherPath, resuming);
            var progress = CommandConsoles.ForProgress(parse);
            var runner = new StageRunner(folder, (name, stage) => SpectreStages.Run(progress, stage));
            runner.StageStarting += (name, status) => progress.MarkupLine(Markup.Escape(status == "run" ? $"stage {name}" : $"stage {name}: done before, skipped"));
            var reports = runner.Run(ConversionRecipe.Stages(choices), initial);

            var console = CommandConsoles.ForOutput(parse);
            console.Write(Summary(reports));
            console.WriteLine($"package {package}; work folder {folder.Root}");
            int exit = reports.Select(r => r.Outcome.ExitCode).DefaultIfEmpty(0).Max();
            foreach (var gate in reports.SelectMany(r => r.Outcome.Summary).Where(l => l.Key == "gate" && l.Value.StartsWith("FAILED", StringComparison.Ordinal)))
                parse.InvocationConfiguration.Error.WriteLine("gate failed: " + gate.Value["FAILED: ".Length..]);
            return exit;
        });
        return command;
    }

    static Table Summary(IReadOnlyList<StageReport> reports)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("conversion").AddColumns("stage", "status", "time", "result");
        foreach (var r in reports)
        {
            string time = r.Status == "ran" ? TimeSpan.FromSeconds(r.Seconds).ToString(@"m\:ss", CultureInfo.InvariantCulture) : "-";
            string lines = string.Join("\n", r.Outcome.Summary.Select(l => $"{l.Key}: {l.Value}"));
            table.AddRow(new Text(r.Stage), new Text(r.Status), new Text(time), new Text(lines));
        }
        return table;
    }
}
