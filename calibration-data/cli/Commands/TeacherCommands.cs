using System.CommandLine;
using System.Globalization;
using Turbo.CalibrationData.Prompts;
using Turbo.CalibrationData.Teacher;
using Turbo.Converter.Pipelines;
using Turbo.Distiller.Training;
using Turbo.Runtime;
using Turbo.Runtime.Video;
using static TorchSharp.torch;

namespace Turbo.CalibrationData.Cli;

/// <summary>
/// `teacher-vae`, `teacher-dit`, `teacher-evaluate`: train the bundled tiny-wan-t2v teacher stage by stage (each
/// resumable from its work folder) and measure it with the oracle.
/// </summary>
public static class TeacherCommands
{
    static Option<string> Work() => new("--work") { Description = "work folder (checkpoints, and model/ with the components)", DefaultValueFactory = _ => "out/teacher" };
    static Option<double?> TimeLimit() => new("--time-limit") { Description = "minutes after which training stops, checkpointed; run again to resume" };
    static TimeSpan? Minutes(double? minutes) => minutes is { } m ? TimeSpan.FromMinutes(m) : null;
    static Option<string> DeviceOption() => new("--device") { Description = "auto, cuda or cpu", DefaultValueFactory = _ => "auto" };

    public static Command Vae()
    {
        var defaults = new VaeTrainingSettings();
        Option<string> work = Work(), device = DeviceOption();
        var limit = TimeLimit();
        var steps = new Option<int>("--steps") { Description = "optimizer steps", DefaultValueFactory = _ => 3000 };
        var batch = new Option<int>("--batch") { Description = "clips per step", DefaultValueFactory = _ => 16 };
        var rate = new Option<double>("--lr") { Description = "learning rate", DefaultValueFactory = _ => 1e-3 };
        var frames = new Option<int>("--train-frames") { Description = "frames of the training clips (4n + 1; evaluation uses the full clips)", DefaultValueFactory = _ => 9 };
        var ema = new Option<double>("--ema") { Description = "EMA decay of the shipped weights", DefaultValueFactory = _ => 0.995 };
        var check = new Option<int>("--check-clips") { Description = "held-out clips for the PSNR (twice as many training clips for the latent statistics)", DefaultValueFactory = _ => 256 };
        var command = new Command("teacher-vae", "Train the teacher's Wan-architecture VAE on Shapes; write model/vae, tokenizer, text encoder.")
        {
            work, steps, batch, rate, frames, ema, check, limit, device,
        };
        command.SetAction(parse =>
        {
            var target = Prepare(parse.GetRequiredValue(device));
            var settings = defaults with
            {
                Steps = parse.GetValue(steps), BatchSize = parse.GetValue(batch), LearningRate = parse.GetValue(rate),
                CheckpointEvery = 250, Seed = 1, TimeLimit = Minutes(parse.GetValue(limit)), EmaDecay = parse.GetValue(ema),
            };
            var console = parse.InvocationConfiguration.Output;
            var result = TeacherTraining.TrainVae(parse.GetRequiredValue(work), settings, parse.GetValue(frames), parse.GetValue(check), target, console.WriteLine);
            console.WriteLine(Invariant($"VAE: step {result.Steps}, {result.Parameters:N0} parameters, held-out PSNR {result.Measures["held-out PSNR dB"]:F2} dB, {result.Seconds:F0} s over {result.Runs} run(s)"));
            return 0;
        });
        return command;
    }

    public static Command Dit()
    {
        Option<string> work = Work(), device = DeviceOption();
        var limit = TimeLimit();
        var steps = new Option<int>("--steps") { Description = "optimizer steps (in total, across resumed runs)", DefaultValueFactory = _ => 6000 };
        var batch = new Option<int>("--batch") { Description = "clips per step", DefaultValueFactory = _ => 64 };
        var rate = new Option<double>("--lr") { Description = "learning rate", DefaultValueFactory = _ => 5e-4 };
        var pool = new Option<int>("--pool") { Description = "training clips encoded once and sampled from", DefaultValueFactory = _ => 16384 };
        var command = new Command("teacher-dit", "Train the teacher's Wan2.1 DiT with flow matching and caption dropout; write model/transformer.")
        {
            work, steps, batch, rate, pool, limit, device,
        };
        command.SetAction(parse =>
        {
            var target = Prepare(parse.GetRequiredValue(device));
            var settings = new FlowMatchingSettings
            {
                Steps = parse.GetValue(steps), BatchSize = parse.GetValue(batch), LearningRate = parse.GetValue(rate),
                CaptionDropout = 0.1, EmaDecay = 0.999, CheckpointEvery = 500, Seed = 1, TimeLimit = Minutes(parse.GetValue(limit)),
            };
            var console = parse.InvocationConfiguration.Output;
            var result = TeacherTraining.TrainTransformer(parse.GetRequiredValue(work), settings, parse.GetValue(pool), target, console.WriteLine);
            console.WriteLine(Invariant($"DiT: step {result.Steps}, {result.Parameters:N0} parameters, loss {result.Measures["loss (last 50 steps)"]:F4} (mean of the last 50 steps), {result.Seconds:F0} s over {result.Runs} run(s)"));
            return 0;
        });
        return command;
    }

    public static Command Evaluate()
    {
        var model = new Option<string>("--model") { Description = "the model folder (diffusers layout)", DefaultValueFactory = _ => "models/tiny-wan-t2v" };
        var count = new Option<int>("--prompts") { Description = "how many evaluation prompts (all 288 by default)", DefaultValueFactory = _ => PromptSets.Evaluation().Count };
        var batch = new Option<int>("--batch") { Description = "clips generated at once", DefaultValueFactory = _ => 32 };
        var steps = new Option<int?>("--steps") { Description = "sampling steps (default: the model's)" };
        var seed = new Option<long>("--seed") { Description = "noise seed", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--output", "-o") { Description = "folder for quality.json and the captioned grid of the first 16 clips (GIF and PNG)", DefaultValueFactory = _ => "out/teacher-evaluation" };
        var device = DeviceOption();
        var command = new Command("teacher-evaluate", "Generate a clip per evaluation prompt and score it with the oracle against real clips (and the real-clip ceiling).")
        {
            model, count, batch, steps, seed, output, device,
        };
        command.SetAction(parse =>
        {
            var target = Prepare(parse.GetRequiredValue(device));
            var console = parse.InvocationConfiguration.Output;
            int n = parse.GetValue(count);
            var all = PromptSets.Evaluation();
            if (n < 1 || n > all.Count) throw new TurboException($"--prompts {n}: expected 1 to {all.Count}");
            using var pipeline = WanTextToVideo.Load(parse.GetRequiredValue(model), target, ScalarType.Float32);
            var sampling = parse.GetValue(steps) is { } s ? pipeline.Defaults with { Steps = s } : pipeline.Defaults;
            var (quality, clips) = TeacherEvaluation.Run(pipeline, all.Take(n).ToArray(), sampling, parse.GetValue(batch), parse.GetValue(seed), console.WriteLine);
            using (clips)
            {
                string folder = parse.GetRequiredValue(output);
                Directory.CreateDirectory(folder);
                File.WriteAllText(Path.Combine(folder, "quality.json"), TeacherEvaluation.Json(quality));
                var shown = all.Take((int)Math.Min(16, clips.shape[0])).Select((prompt, i) => new CaptionedClip(prompt, VideoFrames.FromClip(clips[i]))).ToList();
                var grid = new ClipGrid(shown, columns: 4, scale: 2);
                GifWriter.Write(Path.Combine(folder, "generated.gif"), grid.Animate(), fps: 12);
                PngFrames.Write(Path.Combine(folder, "generated.png"), grid.ContactSheet());
                string modelFolder = parse.GetRequiredValue(model);
                if (n == all.Count && sampling == pipeline.Defaults)
                {
                    // The card's numbers: every evaluation prompt, the model's own sampler. Its grid sits beside it.
                    File.Copy(Path.Combine(folder, "generated.gif"), Path.Combine(modelFolder, "generated.gif"), overwrite: true);
                    TeacherCard.Write(modelFolder, quality, "generated.gif");
                    console.WriteLine($"wrote the model card {Path.Combine(modelFolder, "README.md")}");
                }
                console.WriteLine(Invariant($"{quality.Prompts} prompts, {sampling.Steps} steps, CFG {sampling.Guidance}: adherence {quality.Adherence:P1} (real {quality.RealAdherence:P1}), Fréchet {quality.Frechet:F2} (real {quality.RealFrechet:F2}), {quality.GenerateSeconds:F0} s"));
                console.WriteLine($"wrote quality.json, generated.gif and generated.png to {folder}");
            }
            return 0;
        });
        return command;
    }

    /// <summary>The device, with TF32 matrix products on CUDA (the teacher trains in float32).</summary>
    static Device Prepare(string choice)
    {
        var device = DeviceChoice.Resolve(choice);
        if (device.type == TorchSharp.DeviceType.CUDA) backends.cuda.matmul.allow_tf32 = true;
        return device;
    }

    static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
