using System.CommandLine;
using System.Globalization;
using Turbo.CalibrationData.Prompts;
using Turbo.CalibrationData.Teacher;
using Turbo.Converter.Pipelines;
using Turbo.Distiller.Training;
using Turbo.Runtime;
using Turbo.Runtime.Attention;
using Turbo.Runtime.Sampling;
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
    static Option<string?> From(string part) => new("--from")
    {
        Description = $"a trained model folder whose {part} this run continues, in a warm-up and cosine schedule of --steps steps (the work folder's model starts as a copy of it)",
    };

    public static Command Vae()
    {
        var defaults = new VaeTrainingSettings();
        Option<string> work = Work(), device = DeviceOption();
        var limit = TimeLimit();
        var steps = new Option<int>("--steps") { Description = "optimizer steps", DefaultValueFactory = _ => 3000 };
        var batch = new Option<int>("--batch") { Description = "clips per step", DefaultValueFactory = _ => 16 };
        var rate = new Option<double>("--lr") { Description = "peak learning rate (warm-up, then cosine decay to 10% at the last step)", DefaultValueFactory = _ => 1e-3 };
        var frames = new Option<int>("--train-frames") { Description = "frames of the training clips (4n + 1; evaluation uses the full clips)", DefaultValueFactory = _ => TeacherRecipe.Clips.Frames };
        var ema = new Option<double>("--ema") { Description = "EMA decay of the shipped weights", DefaultValueFactory = _ => 0.995 };
        var check = new Option<int>("--check-clips") { Description = "held-out clips for the PSNR (twice as many training clips for the latent statistics)", DefaultValueFactory = _ => 256 };
        var from = From("VAE");
        var decoderOnly = new Option<bool>("--decoder-only") { Description = "with --from: train only the decoder, so the latent space (and a DiT trained on it) stays as it is" };
        var command = new Command("teacher-vae", "Train the teacher's Wan-architecture VAE on Shapes; write model/vae, tokenizer, text encoder.")
        {
            work, steps, batch, rate, frames, ema, check, from, decoderOnly, limit, device,
        };
        command.SetAction(parse =>
        {
            var target = Prepare(parse.GetRequiredValue(device));
            var settings = defaults with
            {
                Steps = parse.GetValue(steps), BatchSize = parse.GetValue(batch), LearningRate = parse.GetValue(rate),
                CheckpointEvery = 250, Seed = 1, TimeLimit = Minutes(parse.GetValue(limit)), EmaDecay = parse.GetValue(ema),
                DecoderOnly = parse.GetValue(decoderOnly),
            };
            var console = parse.InvocationConfiguration.Output;
            var result = TeacherTraining.TrainVae(parse.GetRequiredValue(work), settings, parse.GetValue(frames), parse.GetValue(check), target, console.WriteLine,
                parse.GetValue(from));
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
        var rate = new Option<double>("--lr") { Description = "peak learning rate (warm-up, then cosine decay to 10% at the last step)", DefaultValueFactory = _ => 5e-4 };
        var pool = new Option<int>("--pool") { Description = "training clips encoded once (saved in the work folder for resumed runs) and sampled from", DefaultValueFactory = _ => 32768 };
        var from = From("DiT");
        var command = new Command("teacher-dit", "Train the teacher's Wan2.1 DiT with flow matching and caption dropout; write model/transformer.")
        {
            work, steps, batch, rate, pool, from, limit, device,
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
            var result = TeacherTraining.TrainTransformer(parse.GetRequiredValue(work), settings, parse.GetValue(pool), target, console.WriteLine,
                parse.GetValue(from));
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
        var steps = new Option<int?>("--steps") { Description = "sampling steps (default: the model's; 4 when switching to rcm)" };
        var sampler = new Option<string?>("--sampler") { Description = "unipc, euler or rcm (default: the model's)" };
        var guidance = new Option<double?>("--guidance") { Description = "classifier-free guidance (default: the model's; 1 when switching to rcm)" };
        var shift = new Option<double?>("--shift") { Description = "flow shift of the noise levels (default: the model's)" };
        var transformer = new Option<string?>("--transformer") { Description = "a transformer checkpoint (student-sla, student-merge) evaluated in place of the model's own, in its pipeline" };
        var seed = new Option<long>("--seed") { Description = "noise seed", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--output", "-o") { Description = "folder for quality.json and the captioned grid of the first 16 clips (GIF and PNG)", DefaultValueFactory = _ => "out/teacher-evaluation" };
        var device = DeviceOption();
        var command = new Command("teacher-evaluate", "Generate a clip per evaluation prompt and score it with the oracle against real clips (and the real-clip ceiling); a teacher or a student.")
        {
            model, count, batch, steps, sampler, guidance, shift, transformer, seed, output, device,
        };
        command.SetAction(parse =>
        {
            string? solver = parse.GetValue(sampler);
            if (solver is not null && !FlowSolvers.Names.Contains(solver))
                throw new TurboException($"--sampler {solver}: expected {string.Join(", ", FlowSolvers.Names)}");
            string? transformerPath = parse.GetValue(transformer);
            if (transformerPath is not null && !File.Exists(transformerPath)) throw new TurboException($"--transformer {transformerPath}: no such file");
            var target = Prepare(parse.GetRequiredValue(device));
            var console = parse.InvocationConfiguration.Output;
            int n = parse.GetValue(count);
            var all = PromptSets.Evaluation();
            if (n < 1 || n > all.Count) throw new TurboException($"--prompts {n}: expected 1 to {all.Count}");
            using var loaded = WanTextToVideo.Load(parse.GetRequiredValue(model), target, ScalarType.Float32);
            using var swapped = transformerPath is null ? null
                : TransformerCheckpoint.Load(transformerPath, loaded.Transformer.Config with { Attention = AttentionConfig.Dense }, target);
            var pipeline = swapped is null ? loaded : new WanTextToVideo
            {
                Tokenizer = loaded.Tokenizer, TextEncoder = loaded.TextEncoder, Transformer = swapped, Vae = loaded.Vae, Defaults = loaded.Defaults,
            };
            var sampling = Sampling(pipeline.Defaults, solver, parse.GetValue(steps), parse.GetValue(guidance), parse.GetValue(shift));
            var (quality, clips) = TeacherEvaluation.Run(pipeline, all.Take(n).ToArray(), sampling, parse.GetValue(batch), parse.GetValue(seed), console.WriteLine);
            using (clips)
            {
                string folder = parse.GetRequiredValue(output);
                Directory.CreateDirectory(folder);
                File.WriteAllText(Path.Combine(folder, "quality.json"), TeacherEvaluation.Json(quality));
                var shown = all.Take((int)Math.Min(16, clips.shape[0])).Select((prompt, i) => new CaptionedClip(prompt, VideoFrames.FromClip(clips[i]))).ToList();
                var grid = new ClipGrid(shown, columns: 4, scale: 2, captions: CaptionFont.IsAvailable);
                GifWriter.Write(Path.Combine(folder, "generated.gif"), grid.Animate(), fps: 12);
                PngFrames.Write(Path.Combine(folder, "generated.png"), grid.ContactSheet());
                string modelFolder = parse.GetRequiredValue(model);
                if (n == all.Count && sampling == pipeline.Defaults && swapped is null && TrainingRecord.Load(modelFolder, "transformer") is not null)
                    WriteCard(modelFolder, quality, Path.Combine(folder, "generated.gif"), console);
                console.WriteLine(Invariant($"{quality.Prompts} prompts, {sampling.Solver} {sampling.Steps} steps, CFG {sampling.Guidance}, shift {sampling.Shift}: adherence {quality.Adherence:P1} (real {quality.RealAdherence:P1}), Fréchet {quality.Frechet:F2} (real {quality.RealFrechet:F2}), {quality.GenerateSeconds:F0} s"));
                console.WriteLine($"wrote quality.json, generated.gif and generated.png to {folder}");
                if (!CaptionFont.IsAvailable) console.WriteLine("the grid has no captions: this machine has no TrueType font (on Debian: fonts-dejavu-core)");
            }
            return 0;
        });
        return command;
    }

    public static Command VaeCeiling()
    {
        var model = new Option<string>("--model") { Description = "the model folder (diffusers layout)", DefaultValueFactory = _ => "models/tiny-wan-t2v" };
        var count = new Option<int>("--prompts") { Description = "how many evaluation prompts (all 288 by default)", DefaultValueFactory = _ => PromptSets.Evaluation().Count };
        var batch = new Option<int>("--batch") { Description = "clips encoded and decoded at once", DefaultValueFactory = _ => 16 };
        var output = new Option<string>("--output", "-o") { Description = "the results as JSON", DefaultValueFactory = _ => "out/teacher-evaluation/vae-ceiling.json" };
        var device = DeviceOption();
        var command = new Command("teacher-vae-ceiling", "Real clips of the evaluation prompts through the model's VAE, scored by the oracle as generated clips: the adherence and Fréchet distance no DiT can pass through this VAE.")
        {
            model, count, batch, output, device,
        };
        command.SetAction(parse =>
        {
            var all = PromptSets.Evaluation();
            int n = parse.GetValue(count);
            if (n < 1 || n > all.Count) throw new TurboException($"--prompts {n}: expected 1 to {all.Count}");
            if (parse.GetValue(batch) < 1) throw new TurboException("--batch must be at least 1");
            var target = Prepare(parse.GetRequiredValue(device));
            var console = parse.InvocationConfiguration.Output;
            using var pipeline = WanTextToVideo.Load(parse.GetRequiredValue(model), target, ScalarType.Float32);
            var ceiling = VaeCeilingEvaluation.Run(pipeline.Vae, all.Take(n).ToArray(), TeacherRecipe.Clips, parse.GetValue(batch), console.WriteLine);
            string path = parse.GetRequiredValue(output);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            File.WriteAllText(path, ceiling.Json());
            var s = ceiling.Scores;
            console.WriteLine(Invariant($"{ceiling.Prompts} prompts through the VAE: PSNR {ceiling.Psnr:F2} dB, adherence {s.Adherence:P1} (real {s.RealAdherence:P1}), Fréchet {s.Frechet:F2} (real {s.RealFrechet:F2})"));
            console.WriteLine("per factor: " + string.Join(", ", s.PerFactor.Select(f => Invariant($"{f.Key} {f.Value:P1}"))));
            console.WriteLine($"wrote {path}");
            return 0;
        });
        return command;
    }

    public static Command Card()
    {
        var model = new Option<string>("--model") { Description = "the model folder (diffusers layout)", DefaultValueFactory = _ => "models/tiny-wan-t2v" };
        var quality = new Option<string>("--quality") { Description = "quality.json of a full teacher-evaluate run (all prompts, the model's sampler)", Required = true };
        var grid = new Option<string>("--grid") { Description = "the captioned grid to show in the card (generated.gif of teacher-evaluate)", Required = true };
        var command = new Command("teacher-card", "Write the model card from an evaluation made elsewhere (e.g. on a GPU machine) and a grid of its clips.")
        {
            model, quality, grid,
        };
        command.SetAction(parse =>
        {
            string folder = parse.GetRequiredValue(model), gridFile = parse.GetRequiredValue(grid);
            if (!File.Exists(gridFile)) throw new TurboException($"{gridFile}: no such grid file");
            var measured = TeacherEvaluation.ReadJson(parse.GetRequiredValue(quality));
            var defaults = WanTextToVideo.ReadIndex(folder);
            if (measured.Prompts != PromptSets.Evaluation().Count || measured.Sampling != defaults)
                throw new TurboException(Invariant($"{parse.GetRequiredValue(quality)}: the card needs all {PromptSets.Evaluation().Count} evaluation prompts with the model's own sampler; this evaluation has {measured.Prompts} prompts, {measured.Sampling.Steps} steps, CFG {measured.Sampling.Guidance}"));
            WriteCard(folder, measured, gridFile, parse.InvocationConfiguration.Output);
            return 0;
        });
        return command;
    }

    /// <summary>The card's numbers are every evaluation prompt with the model's own sampler; its grid sits beside it.</summary>
    static void WriteCard(string modelFolder, ModelQuality quality, string grid, TextWriter console)
    {
        string target = Path.Combine(modelFolder, "generated.gif");
        if (Path.GetFullPath(grid) != Path.GetFullPath(target)) File.Copy(grid, target, overwrite: true);
        TeacherCard.Write(modelFolder, quality, "generated.gif");
        console.WriteLine($"wrote the model card {Path.Combine(modelFolder, "README.md")}");
    }

    /// <summary>
    /// The model's sampling defaults with the options given. Switching a model to the rCM sampler defaults to its 4
    /// steps without guidance (a distilled student's); otherwise unstated settings stay the model's.
    /// </summary>
    static SampleSettings Sampling(SampleSettings defaults, string? solver, int? steps, double? guidance, double? shift)
    {
        bool switched = solver is not null && solver != defaults.Solver, toRcm = switched && solver == FlowSolvers.Rcm;
        var settings = defaults with
        {
            Solver = solver ?? defaults.Solver,
            Steps = steps ?? (toRcm ? RcmSchedule.MaxSteps : defaults.Steps),
            Guidance = guidance ?? (toRcm ? 1.0 : defaults.Guidance),
            Shift = shift ?? defaults.Shift,
            Times = switched || steps is not null || shift is not null ? null : defaults.Times,
        };
        if (settings.Steps < 1) throw new TurboException($"--steps {settings.Steps}: expected at least 1");
        if (!(settings.Shift > 0) || !double.IsFinite(settings.Shift)) throw new TurboException($"--shift {settings.Shift}: expected a number > 0");
        _ = settings.Schedule; // refuses a step count the solver cannot take
        if (!(settings.Guidance >= 1) || !double.IsFinite(settings.Guidance)) throw new TurboException($"--guidance {settings.Guidance}: expected a number ≥ 1");
        return settings;
    }

    /// <summary>The device, with TF32 matrix products on CUDA (the teacher trains in float32).</summary>
    internal static Device Prepare(string choice)
    {
        var device = DeviceChoice.Resolve(choice);
        if (device.type == TorchSharp.DeviceType.CUDA) backends.cuda.matmul.allow_tf32 = true;
        return device;
    }

    static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
