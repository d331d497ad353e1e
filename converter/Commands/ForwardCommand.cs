using Turbo.Runtime;
using System.CommandLine;
using Turbo.Converter.Checkpoints;
using Turbo.Converter.Cli;
using Turbo.Converter.Running;
using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Converter.Commands;

/// <summary>
/// `forward`: one model evaluation on stored inputs, e.g. to compare with upstream: a DiT (x, timestep, context → out),
/// or a VAE or text encoder folder (see <see cref="ComponentForward"/>).
/// </summary>
public static class ForwardCommand
{
    public static Command Create()
    {
        var path = CommonOptions.CheckpointArgument();
        var config = CommonOptions.Config();
        var inputs = CommonOptions.Inputs("safetensors file with x [B,C,F,H,W], timestep [B], context [B,L,text_dim] (a DiT); video and/or latent_mean (a VAE); input_ids, attention_mask (a text encoder)");
        var output = CommonOptions.Output("safetensors file to write the velocity 'out' to");
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType();
        var command = new Command("forward", "Run the model once on stored inputs and write its velocity prediction.")
        {
            path, config, inputs, output, device, dtype,
        };
        command.SetAction(parse =>
        {
            string outputPath = parse.GetRequiredValue(output);
            ComputeOptions.CheckOutputPath(outputPath);
            var target = DeviceChoice.Resolve(parse.GetRequiredValue(device));
            string modelPath = parse.GetRequiredValue(path), inputsPath = parse.GetRequiredValue(inputs);
            var kind = ComponentForward.Detect(modelPath);
            if (kind != ComponentKind.Transformer)
            {
                var written = kind == ComponentKind.Vae
                    ? ComponentForward.Vae(modelPath, inputsPath, outputPath, target)
                    : ComponentForward.TextEncoder(modelPath, inputsPath, outputPath, target);
                CommandConsoles.Output(parse).WriteLine($"wrote {string.Join(", ", written)} to {outputPath}: {kind} on {target}");
                return 0;
            }
            var computeDtype = ComputeOptions.ComputeDtype(parse.GetRequiredValue(dtype));
            using var checkpoint = AdaptedCheckpoints.OpenWan(parse.GetRequiredValue(path), parse.GetValue(config));
            var tensors = InputTensors.Read(parse.GetRequiredValue(inputs), "forward", "x", "timestep", "context");
            string shape = "[" + string.Join(", ", tensors[0].shape) + "]";
            try
            {
                using var model = WanModelLoader.Load(checkpoint, computeDtype, target);
                using var noGrad = no_grad();
                using var velocity = model.Forward(tensors[0], tensors[1], tensors[2]);
                using var onCpu = velocity.cpu();
                SafetensorsWriter.Save(outputPath, new Dictionary<string, Tensor> { ["out"] = onCpu });
            }
            finally
            {
                foreach (var t in tensors) t.Dispose();
            }
            CommandConsoles.Output(parse).WriteLine(
                $"wrote out {shape} to {outputPath}: {ComputeOptions.Describe(checkpoint, target, computeDtype)}");
            return 0;
        });
        return command;
    }
}
