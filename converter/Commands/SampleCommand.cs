using System.CommandLine;
using Turbo.Converter.Checkpoints;
using Turbo.Converter.Cli;
using Turbo.Converter.Running;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Converter.Commands;

/// <summary>
/// `sample`: the whole denoising loop with classifier-free guidance from stored noise and text embeddings
/// (noise, context, negative_context → final_latents). Contexts are used as stored: pad them to text_len beforehand
/// to reproduce the original pipeline's 512-row cross-attention.
/// </summary>
public static class SampleCommand
{
    public static Command Create()
    {
        var path = CommonOptions.CheckpointArgument();
        var config = CommonOptions.Config();
        var inputs = CommonOptions.Inputs("safetensors file with noise [B,C,F,H,W], context and negative_context [B,L,text_dim]");
        var output = CommonOptions.Output("safetensors file to write 'final_latents' to");
        var steps = new Option<int>("--steps") { Description = "number of sampling steps", DefaultValueFactory = _ => 50 };
        var shift = new Option<double>("--shift") { Description = "flow shift of the schedule", DefaultValueFactory = _ => 5.0 };
        var guidance = new Option<double>("--guidance") { Description = "classifier-free guidance scale (1 = off)", DefaultValueFactory = _ => 5.0 };
        var solver = new Option<string>("--solver") { Description = "unipc (2nd-order multistep) or euler", DefaultValueFactory = _ => "unipc" };
        solver.AcceptOnlyFromAmong("unipc", "euler");
        var schedule = new Option<string>("--schedule")
        {
            Description = "sigma grid: diffusers (linspace(1, 1/1000), as WanPipeline) or original (linspace(0.999, 0), as Wan-AI's generate.py)",
            DefaultValueFactory = _ => "diffusers",
        };
        schedule.AcceptOnlyFromAmong("diffusers", "original");
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType();
        var command = new Command("sample", "Run the denoising loop with guidance from stored noise and text embeddings.")
        {
            path, config, inputs, output, steps, shift, guidance, solver, schedule, device, dtype,
        };
        command.SetAction(parse =>
        {
            string outputPath = parse.GetRequiredValue(output);
            ComputeOptions.CheckOutputPath(outputPath);
            var target = DeviceChoice.Resolve(parse.GetRequiredValue(device));
            var computeDtype = ComputeOptions.ComputeDtype(parse.GetRequiredValue(dtype));
            int stepCount = parse.GetValue(steps);
            double flowShift = parse.GetValue(shift), guidanceScale = parse.GetValue(guidance);
            var grid = parse.GetRequiredValue(schedule) == "original"
                ? FlowMatchSchedule.WanOriginal(stepCount, flowShift)
                : FlowMatchSchedule.DiffusersUniPc(stepCount, flowShift);
            IFlowSampler sampler = parse.GetRequiredValue(solver) == "euler" ? new EulerSampler() : new UniPcSampler();
            using var checkpoint = AdaptedCheckpoints.OpenWan(parse.GetRequiredValue(path), parse.GetValue(config));
            var stored = InputTensors.Read(parse.GetRequiredValue(inputs), "sample", "noise", "context", "negative_context");
            try
            {
                if (stored[0].dim() < 1 || stored[1].dim() < 1 || stored[0].shape[0] != stored[1].shape[0])
                    throw new TurboException($"{parse.GetRequiredValue(inputs)}: noise and context must have the same batch size (first dimension)");
                using var model = WanModelLoader.Load(checkpoint, computeDtype, target);
                using var noGrad = no_grad();
                using var noise = stored[0].to(target);
                using var context = stored[1].to(target);
                using var negative = stored[2].to(target);
                var velocity = ClassifierFreeGuidance.Guided((x, t, c) => model.Forward(x, t, c), context, negative, guidanceScale);
                using var latents = ProgressBar.Run(CommandConsoles.ForProgress(parse), $"sample {stepCount} steps", stepCount,
                    advance => sampler.Sample(velocity, noise, grid, (_, _) => advance(1)));
                using var onCpu = latents.cpu();
                SafetensorsWriter.Save(outputPath, new Dictionary<string, Tensor> { ["final_latents"] = onCpu });
            }
            finally
            {
                foreach (var t in stored) t.Dispose();
            }
            CommandConsoles.Output(parse).WriteLine(
                $"wrote final_latents to {outputPath}: {stepCount} {parse.GetRequiredValue(solver)} steps, shift {flowShift}, guidance {guidanceScale}; {ComputeOptions.Describe(checkpoint, target, computeDtype)}");
            return 0;
        });
        return command;
    }
}
