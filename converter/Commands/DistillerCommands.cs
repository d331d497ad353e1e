using System.CommandLine;
using Turbo.Converter.Conversion;
using Turbo.Runtime;
using Turbo.Converter.Validation;

namespace Turbo.Converter.Commands;

/// <summary>`distill`, `sparsify` and `refine`: the distiller's stages of `run`, each on its own (<see cref="StageAlone"/>).</summary>
public static class DistillerCommands
{
    public static Command Distill()
    {
        var model = new Argument<string>("teacher") { Description = "text-to-video teacher folder in diffusers layout" };
        var output = CommonOptions.Output("folder for the teacher's samples, the rCM checkpoints and the student (rerun to resume)");
        var data = new TeacherDataOptions();
        var distill = new DistillStageOptions();
        var device = CommonOptions.Device();
        var command = new Command("distill", "rCM step distillation: the teacher's own samples, then a 1–4-step student with the teacher's guidance distilled in (the distill stage of `run`).")
        {
            model, output, device,
        };
        foreach (var option in data.All.Concat(distill.All)) command.Options.Add(option);
        command.SetAction(parse =>
        {
            string teacher = parse.GetRequiredValue(model);
            var judge = QualityJudges.Resolve(QualityJudges.Auto, teacher);
            var stage = new DistillStage(distill.Read(parse, data.Read(parse)), judge, DeviceChoice.Resolve(parse.GetRequiredValue(device)));
            stage.Check();
            return StageAlone.Run(parse, stage, teacher, parse.GetRequiredValue(output));
        });
        return command;
    }

    public static Command Sparsify()
    {
        var model = new Argument<string>("model") { Description = "a teacher folder, or the output folder of `distill`" };
        var output = CommonOptions.Output("folder for the SLA fine-tune's checkpoints and the sparse model (rerun to resume)");
        var data = new TeacherDataOptions();
        var sparsify = new SparsifyStageOptions();
        var device = CommonOptions.Device();
        var command = new Command("sparsify", "SLA sparse-linear attention in every block, fine-tuned to the dense teacher and merged into a distilled student (the sparsify stage of `run`).")
        {
            model, output, device,
        };
        foreach (var option in data.All.Concat(sparsify.All)) command.Options.Add(option);
        command.SetAction(parse =>
        {
            string input = parse.GetRequiredValue(model);
            var judge = QualityJudges.Resolve(QualityJudges.Auto, ModelState.Open(input).Teacher);
            var stage = new SparsifyStage(sparsify.Read(parse, data.Read(parse)), judge, DeviceChoice.Resolve(parse.GetRequiredValue(device)));
            stage.Check();
            return StageAlone.Run(parse, stage, input, parse.GetRequiredValue(output));
        });
        return command;
    }

    public static Command Refine()
    {
        var model = new Argument<string>("model") { Description = "the output folder of `sparsify` run on the output of `distill`" };
        var output = CommonOptions.Output("folder for the continued rCM's checkpoints and the student (rerun to resume)");
        var refine = new RefineStageOptions();
        var distill = new DistillStageOptions();
        var seed = new TeacherDataOptions().Seed;
        var device = CommonOptions.Device();
        var command = new Command("refine", "rCM continued on the sparse student against the dense teacher, on the distill stage's teacher samples (the refine stage of `run`).")
        {
            model, output, device, seed, distill.Batch, distill.DmdWeight, distill.Tangent, distill.Guidance,
        };
        foreach (var option in refine.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var rcm = new DistillSettings(new TeacherData(Seed: parse.GetValue(seed)), BatchSize: parse.GetValue(distill.Batch),
                DmdWeight: parse.GetValue(distill.DmdWeight), Tangent: parse.GetRequiredValue(distill.Tangent), Guidance: parse.GetValue(distill.Guidance));
            var stage = new RefineStage(refine.Read(parse), rcm, DeviceChoice.Resolve(parse.GetRequiredValue(device)));
            stage.Check();
            return StageAlone.Run(parse, stage, parse.GetRequiredValue(model), parse.GetRequiredValue(output));
        });
        return command;
    }
}
