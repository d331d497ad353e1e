using System.CommandLine;
using System.Diagnostics;
using Spectre.Console;
using Turbo.Converter.Cli;
using Turbo.Converter.Pipelines;
using Turbo.Runtime;
using Turbo.Runtime.Packaging;
using Turbo.Runtime.Quant;
using Turbo.Runtime.Video;
using static TorchSharp.torch;

namespace Turbo.Cli.Commands;

/// <summary>
/// `turbo generate MODEL --prompt ... -o out.gif|.mp4|.png`: text to video with the model's own sampler (by default
/// the settings its model_index.json records, e.g. 50 UniPC steps with CFG, or a package's sampler). MODEL is a
/// diffusers-layout folder or a package (verified before it is loaded; its quantized Linears and attention backends
/// run through the runtime's kernels). Several prompts make one captioned grid.
/// </summary>
static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "a package (turbo.json) or a text-to-video model folder (diffusers layout: model_index.json, transformer/, vae/, text_encoder/, tokenizer/)" };
        var prompts = new Option<string[]>("--prompt", "-p") { Description = "prompt (repeat for a captioned grid of several clips)", Required = true, AllowMultipleArgumentsPerToken = false };
        var output = new Option<string>("--output", "-o") { Description = "video file: .gif, .mp4 (needs ffmpeg) or .png (frames)", Required = true };
        var seed = new Option<long>("--seed") { Description = "noise seed", DefaultValueFactory = _ => 0 };
        var steps = new Option<int?>("--steps") { Description = "sampling steps (default: the model's)" };
        var guidance = new Option<double?>("--guidance") { Description = "classifier-free guidance scale (default: the model's)" };
        var fps = new Option<double>("--fps") { Description = "frames per second of the written video", DefaultValueFactory = _ => 16 };
        var scale = new Option<int>("--scale") { Description = "pixel repetition of the written video (small models make small clips)", DefaultValueFactory = _ => 2 };
        var device = new Option<string>("--device") { Description = "auto, cuda or cpu", DefaultValueFactory = _ => "auto" };
        var command = new Command("generate", "Generate a video from a prompt with a text-to-video model")
        {
            model, prompts, output, seed, steps, guidance, fps, scale, device,
        };
        command.SetAction(parse =>
        {
            var texts = parse.GetRequiredValue(prompts);
            string path = parse.GetRequiredValue(output);
            if (parse.GetValue(scale) is < 1 or > 8) throw new TurboException("--scale must be 1 to 8");
            if (!(parse.GetValue(fps) is > 0 and <= 240)) throw new TurboException($"--fps must be in (0, 240], found {parse.GetValue(fps)}");
            VideoFile.CheckWritable(path);
            var target = DeviceChoice.Resolve(parse.GetRequiredValue(device));
            var console = CommandConsoles.ForOutput(parse);
            string folder = parse.GetRequiredValue(model);
            bool package = File.Exists(Path.Combine(folder, PackageManifest.FileName));
            using var pipeline = package ? WanTextToVideo.LoadPackage(folder, target, ScalarType.Float32) : WanTextToVideo.Load(folder, target, ScalarType.Float32);
            if (pipeline.Defaults.Times is not null && parse.GetValue(steps) is not null)
                throw new TurboException($"--steps: {folder} samples at its own {pipeline.Defaults.Steps} explicit times; it takes no other step count");
            if (package) console.MarkupLine(Markup.Escape($"package {folder}: {Describe(pipeline)}"));
            var settings = pipeline.Defaults with
            {
                Steps = parse.GetValue(steps) ?? pipeline.Defaults.Steps,
                Guidance = parse.GetValue(guidance) ?? pipeline.Defaults.Guidance,
            };
            foreach (string text in texts)
                if (pipeline.Tokenizer.Encode(text, pipeline.Transformer.Config.TextLen) is { } tokens && (tokens.UnknownWords.Count > 0 || tokens.Truncated))
                    console.MarkupLine("[yellow]" + Markup.Escape($"warning: \"{text}\": " + string.Join("; ",
                        new[] { tokens.UnknownWords.Count > 0 ? $"words the model does not know: {string.Join(", ", tokens.UnknownWords)}" : null,
                                tokens.Truncated ? $"{tokens.DroppedWords} word(s) past its {pipeline.Transformer.Config.TextLen} tokens dropped" : null }
                        .Where(w => w is not null))) + "[/]");
            var clock = Stopwatch.StartNew();
            Tensor videos = null!;
            CommandConsoles.ForProgress(parse).Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask(Markup.Escape($"{texts.Length} clip(s), {settings.Steps} {settings.Solver} steps, CFG {settings.Guidance}"), maxValue: settings.Steps);
                    videos = pipeline.Generate(texts, parse.GetValue(seed), settings, (step, _) => task.Value = step);
                });
            using (videos)
            {
                var clips = texts.Select((text, i) => new CaptionedClip(text, VideoFrames.FromClip(videos[i]))).ToList();
                bool grid = clips.Count > 1 || parse.GetValue(scale) != 1;
                var frames = grid
                    ? new ClipGrid(clips, columns: Math.Min(clips.Count, 4), parse.GetValue(scale), captions: CaptionFont.IsAvailable).Animate()
                    : clips[0].Frames;
                string written = VideoFile.Write(path, frames, parse.GetValue(fps));
                if (grid && !CaptionFont.IsAvailable)
                    console.MarkupLine("the grid has no captions: this machine has no TrueType font (on Debian: fonts-dejavu-core)");
                console.MarkupLine(Markup.Escape($"wrote {written}: {texts.Length} clip(s) of {settings.Frames} frames {settings.Width}×{settings.Height}, {clock.Elapsed.TotalSeconds:F1} s on {target}"));
            }
            return 0;
        });
        return command;
    }

    /// <summary>What runs: the sampler, each block's attention and the Linear layers' kernels.</summary>
    static string Describe(WanTextToVideo pipeline)
    {
        var config = pipeline.Transformer.Config;
        string attention = string.Join(", ", Enumerable.Range(0, config.NumLayers).Select(config.AttentionOf)
            .GroupBy(a => a.Kind).Select(g => $"{g.Key} × {g.Count()}"));
        string linears = string.Join(", ", WanLinears.Of(pipeline.Transformer).GroupBy(l => l.Linear.Kernel?.Description ?? "float")
            .Select(g => $"{g.Key} × {g.Count()}"));
        var d = pipeline.Defaults;
        return $"{d.Solver} × {d.Steps} steps, guidance {d.Guidance}; attention {attention}; linears {linears}";
    }
}
