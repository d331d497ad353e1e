using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Turbo.Converter.Checkpoints;
using Turbo.Converter.Cli;
using Turbo.Converter.Families.Wan;
using Turbo.Converter.Inspection;
using Turbo.Quantizer;
using Turbo.Quantizer.Calibration;
using Turbo.Quantizer.Reports;
using Turbo.Quantizer.Selection;
using Turbo.Quantizer.Smoothing;
using Turbo.Runtime;
using Turbo.Runtime.Quant;
using Turbo.Runtime.Sampling;

namespace Turbo.Converter.Commands;

/// <summary>
/// `quantize`: W8A8 (or FP8) post-training quantization of a Wan2.1 DiT's block Linear layers, calibrated over whole
/// sampling runs, optionally SmoothQuant-smoothed; writes the quantized checkpoint, config.json, the calibration
/// statistics (a rerun into the same folder resumes them) and quantization-report.json. A bare checkpoint is
/// calibrated on random inputs at the schedule the options give; a text-to-video model folder (a teacher, or a stage's
/// output) runs the quantize stage of `run` (prompts through its text encoder, its own sampler) and leaves state.json
/// for `package`.
/// </summary>
public static class QuantizeCommand
{
    public static Command Create()
    {
        var path = CommonOptions.CheckpointArgument();
        var config = CommonOptions.Config();
        var output = CommonOptions.Output("folder to write the quantized checkpoint to (absent, empty, or holding a previous run's calibration/)");
        var stageOptions = new QuantizeStageOptions("--seed");
        var (scheme, smooth, alphaSteps, samples, evalSamples) = (stageOptions.Scheme, stageOptions.Smooth, stageOptions.AlphaSteps, stageOptions.Samples, stageOptions.EvalSamples);
        var steps = new Option<int>("--calib-steps") { Description = "sampling steps: the timesteps the model will be sampled at", DefaultValueFactory = _ => 8 };
        var shift = new Option<double>("--shift") { Description = "flow shift of the sampling schedule", DefaultValueFactory = _ => 5.0 };
        var solver = new Option<string>("--solver") { Description = "unipc or euler", DefaultValueFactory = _ => "unipc" };
        solver.AcceptOnlyFromAmong(CalibrationSettings.Solvers);
        var guidance = new Option<double>("--guidance") { Description = "classifier-free guidance scale during calibration (1 = conditional only, as a distilled student samples)", DefaultValueFactory = _ => 1.0 };
        var latent = new Option<string>("--calib-latent") { Description = "calibration latent size FxHxW (latent frames, height, width)", DefaultValueFactory = _ => "3x16x16" };
        var contextLength = new Option<int?>("--calib-context-len") { Description = "rows of the calibration text context (default: the model's text_len)" };
        var (rows, maxRows, include, exclude, seed, dtype) = (stageOptions.Rows, stageOptions.MaxRows, stageOptions.Include, stageOptions.Exclude, stageOptions.Seed, stageOptions.Dtype);
        var shardGb = new Option<double>("--max-shard-gb") { Description = "split the output into shards above this size", DefaultValueFactory = _ => 5.0 };
        var json = new Option<bool>("--json") { Description = "print the report as JSON instead of tables" };
        var device = CommonOptions.Device();
        var attention = PackageStageOptions.Attention();
        var command = new Command("quantize", "Quantize the Linear layers inside the blocks to INT8 (W8A8) or FP8, calibrated and with an error report; a text-to-video model folder is calibrated over prompts at its own sampler's times (the quantize stage of `run`).")
        {
            path, config, output, stageOptions.PromptsFile, steps, shift, solver, guidance, latent, contextLength, shardGb, json, attention, device,
        };
        foreach (var option in stageOptions.All.Except(command.Options)) command.Options.Add(option);
        Option[] checkpointOnly = [config, steps, shift, solver, guidance, latent, contextLength, shardGb, json];
        command.SetAction(parse =>
        {
            string model = parse.GetRequiredValue(path);
            if (ModelFolder(model))
            {
                if (checkpointOnly.FirstOrDefault(o => parse.GetResult(o) is { Implicit: false }) is { } given)
                    throw new TurboException($"{given.Name}: applies to bare checkpoints; a model folder is calibrated over prompts at its own sampler's times");
                return QuantizeModel(parse, model, parse.GetRequiredValue(output), stageOptions.Read(parse), parse.GetRequiredValue(attention),
                    DeviceChoice.Resolve(parse.GetRequiredValue(device)));
            }
            if (parse.GetValue(stageOptions.PromptsFile) is not null)
                throw new TurboException("--calib-prompts-file: applies to text-to-video model folders; a bare checkpoint is calibrated on random inputs");
            if (parse.GetResult(attention) is { Implicit: false })
                throw new TurboException("--attention: applies to text-to-video model folders (the attention their package will run); a bare checkpoint is calibrated with its own");
            string outputFolder = parse.GetRequiredValue(output);
            var format = QuantFormats.Parse(parse.GetRequiredValue(scheme));
            int calibrationSamples = parse.GetValue(samples), evaluationSamples = parse.GetValue(evalSamples);
            var grid = parse.GetValue(smooth) ? SmoothQuant.Grid(parse.GetValue(alphaSteps)) : null;
            var schedule = FlowMatchSchedule.DiffusersUniPc(parse.GetValue(steps), parse.GetValue(shift));
            double shardBytes = parse.GetValue(shardGb) * 1e9;
            if (!(shardBytes >= 1)) throw new TurboException($"--max-shard-gb {parse.GetValue(shardGb)}: must be positive");
            var target = DeviceChoice.Resolve(parse.GetRequiredValue(device));
            var computeDtype = ComputeOptions.ComputeDtype(parse.GetRequiredValue(dtype));
            var selection = new LayerSelection(parse.GetValue(include), parse.GetValue(exclude));
            var settings = new CalibrationSettings(schedule, parse.GetRequiredValue(solver), parse.GetValue(guidance),
                parse.GetValue(rows), parse.GetValue(seed));

            using var checkpoint = AdaptedCheckpoints.OpenWan(parse.GetRequiredValue(path), parse.GetValue(config));
            var wan = checkpoint.Config;
            var inputs = new RandomCalibrationSource(wan, ParseLatent(parse.GetRequiredValue(latent)),
                parse.GetValue(contextLength) ?? wan.TextLen, calibrationSamples + evaluationSamples, parse.GetValue(seed));
            var source = new SourceCheckpoint(wan, checkpoint.Tensors.Select(t => t.Source with { Name = t.Name }).ToList(),
                checkpoint.Read, string.Join(", ", checkpoint.Files.Select(Path.GetFileName)), Identity(checkpoint.Files));
            var options = new QuantizationOptions(format, grid, selection, calibrationSamples, evaluationSamples, settings,
                parse.GetValue(maxRows), (long)shardBytes, computeDtype, target);
            var extra = new Dictionary<string, string> { ["config.json"] = WanConfigJson.Write(wan, WanConfigFormat.Original) };

            var started = DateTime.UtcNow;
            var report = SpectreStages.Run(CommandConsoles.ForProgress(parse),
                stages => WanQuantization.Run(source, inputs, options, outputFolder, extra, stages));
            double seconds = (DateTime.UtcNow - started).TotalSeconds;

            if (parse.GetValue(json))
            {
                CommandConsoles.Output(parse).WriteLine(report.ToJson());
                return 0;
            }
            Render(report, CommandConsoles.ForOutput(parse));
            var e2e = report.EndToEnd;
            CommandConsoles.Output(parse).WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {outputFolder} in {seconds:F1} s: {report.Layers.Count} layers {report.Scheme}{(report.Smoothing ? " smoothed" : "")}, " +
                $"{ByteSize.Format(report.Sizes.SourceBytes)} -> {ByteSize.Format(report.Sizes.OutputBytes)}; velocity cosine {e2e.VelocityCosineMean:F5} " +
                $"(min {e2e.VelocityCosineMin:F5}), final latents cosine {e2e.LatentCosineMean:F5}; {ComputeOptions.Describe(checkpoint, target, computeDtype)}"));
            return 0;
        });
        return command;
    }

    /// <summary>A text-to-video model folder (a teacher, or a stage's output) rather than a bare DiT checkpoint.</summary>
    static bool ModelFolder(string path) => Directory.Exists(path)
        && (File.Exists(Path.Combine(path, Pipelines.WanTextToVideo.IndexFile)) || File.Exists(Path.Combine(path, Conversion.ModelState.FileName)));

    /// <summary>The quantize stage of `run` on its own: its output folder is the stage's (state.json included, for `package`).</summary>
    static int QuantizeModel(ParseResult parse, string model, string outputFolder, Conversion.QuantizeSettings settings, string attention,
        TorchSharp.torch.Device device)
    {
        var judge = Validation.QualityJudges.Resolve(Validation.QualityJudges.Auto, Conversion.ModelState.Open(model).Teacher);
        Conversion.QuantizeStage.Prompts(settings, judge);
        return StageAlone.Run(parse, new Conversion.QuantizeStage(settings, judge, device, attention), model, outputFolder);
    }

    /// <summary>Full paths, sizes and modification times of the weight files: enough to tell an interrupted run's input apart.</summary>
    static string Identity(IEnumerable<string> files) => string.Join("; ", files.Select(f =>
    {
        var info = new FileInfo(f);
        return string.Create(CultureInfo.InvariantCulture, $"{info.FullName} ({info.Length} bytes, modified {info.LastWriteTimeUtc:O})");
    }));

    /// <summary>"3x16x16" → [3, 16, 16].</summary>
    static int[] ParseLatent(string text)
    {
        var parts = text.Split('x');
        var values = parts.Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : -1).ToArray();
        if (values.Length != 3 || values.Any(v => v < 1))
            throw new TurboException($"--calib-latent {text}: expected FxHxW, three positive integers such as 3x16x16");
        return values;
    }

    static void Render(QuantizationReport r, IAnsiConsole console)
    {
        var layers = new Table().Border(TableBorder.Rounded)
            .AddColumns("layer", "shape", "alpha", "W SQNR dB", "out SQNR dB", "unsmoothed dB", "token |x| p99", "|x| max", "outlier ch");
        foreach (var l in r.Layers)
            layers.AddRow(new[]
            {
                l.Name, $"{l.OutFeatures}x{l.InFeatures}", l.Alpha is { } a ? F(a, "0.00") : "-", F(l.WeightSqnrDb, "0.0"),
                F(l.OutputSqnrDb, "0.0"), l.OutputSqnrUnsmoothedDb is { } u ? F(u, "0.0") : "-",
                F(l.Activations.TokenAbsMaxP99, "G4"), F(l.Activations.AbsMax, "G4"), l.Activations.OutlierChannels.ToString(CultureInfo.InvariantCulture),
            }.Select(cell => new Text(cell)));
        console.Write(layers);

        var e = r.EndToEnd;
        var summary = new Table().Border(TableBorder.Rounded).AddColumn("end to end vs unquantized").AddColumn("value");
        void Row(string key, string value) => summary.AddRow(new Text(key), new Text(value));
        Row("scheme", $"{r.Scheme}, activations {r.Activations}{(r.Smoothing ? ", SmoothQuant searched" : "")}");
        Row("calibration", $"{r.Calibration.Samples} samples x {r.Calibration.Steps} {r.Calibration.Solver} steps (guidance {F(r.Calibration.Guidance, "G3")}); {r.Calibration.Source}");
        Row("layers", $"{r.Layers.Count} quantized, {r.HighPrecisionLinears.Count} Linear layers kept in {r.ComputeDtype}");
        Row("layer output SQNR", $"min {F(r.MinOutputSqnrDb, "0.0")} dB, mean {F(r.MeanOutputSqnrDb, "0.0")} dB");
        Row("velocity cosine", $"mean {F(e.VelocityCosineMean, "0.000000")}, min {F(e.VelocityCosineMin, "0.000000")} ({e.Samples} samples x {e.Steps} steps)");
        Row("velocity rel. error", $"mean {F(e.VelocityRelativeErrorMean, "0.0000")}, max {F(e.VelocityRelativeErrorMax, "0.0000")}");
        Row("final latents", $"cosine {F(e.LatentCosineMean, "0.000000")}, rel. error {F(e.LatentRelativeErrorMean, "0.0000")}");
        Row("size", $"{ByteSize.Format(r.Sizes.SourceBytes)} -> {ByteSize.Format(r.Sizes.OutputBytes)} (quantized weights {ByteSize.Format(r.Sizes.QuantizedWeightsSourceBytes)} -> {ByteSize.Format(r.Sizes.QuantizedWeightsOutputBytes)})");
        console.Write(summary);
    }

    static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
