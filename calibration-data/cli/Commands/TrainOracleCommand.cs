using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Turbo.CalibrationData.Oracle;
using Turbo.CalibrationData.Shapes;

namespace Turbo.CalibrationData.Cli;

/// <summary>`train-oracle`: trains the oracle on the CPU, saves it, reloads the saved file, measures it and writes its model card.</summary>
public static class TrainOracleCommand
{
    public static Command Create()
    {
        var defaults = new OracleTrainingOptions();
        var steps = new Option<int>("--steps") { Description = "optimizer steps", DefaultValueFactory = _ => defaults.Steps };
        var batch = new Option<int>("--batch") { Description = "clips per step", DefaultValueFactory = _ => defaults.BatchSize };
        var rate = new Option<double>("--lr") { Description = "peak learning rate", DefaultValueFactory = _ => defaults.LearningRate };
        var seed = new Option<ulong>("--seed") { Description = "training seed (weights and clips)", DefaultValueFactory = _ => defaults.Seed };
        var evalClips = new Option<int>("--eval-clips") { Description = "fresh clips per split to measure accuracy on", DefaultValueFactory = _ => 1000 };
        var output = new Option<string>("--output", "-o") { Description = "folder for the weights and README.md", DefaultValueFactory = _ => "calibration-data/oracle-weights" };
        var command = new Command("train-oracle", "Train the Shapes oracle on the CPU and write its weights and model card.")
        {
            steps, batch, rate, seed, evalClips, output,
        };
        command.SetAction(parse =>
        {
            var console = parse.InvocationConfiguration.Output;
            var options = new OracleTrainingOptions(parse.GetValue(steps), parse.GetValue(batch), parse.GetValue(rate), parse.GetValue(seed));
            if (options.Steps < 1 || options.BatchSize < 1) throw new Turbo.Runtime.TurboException("--steps and --batch must be at least 1");
            string folder = parse.GetRequiredValue(output);
            Directory.CreateDirectory(folder);
            var clock = Stopwatch.StartNew();
            double recent = 0;
            string path = Path.Combine(folder, ShapesOracle.DefaultFileName);
            OracleTrainer.TrainAndSave(options, path, new Dictionary<string, string> { ["format"] = "turbo-shapes-oracle", ["version"] = "1" }, (step, loss) =>
            {
                recent = step == 0 ? loss : 0.95 * recent + 0.05 * loss;
                if ((step + 1) % 50 == 0 || step + 1 == options.Steps)
                    console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {step + 1}/{options.Steps}  loss {recent:F4}  {clock.Elapsed.TotalSeconds:F0} s"));
            });
            double trainSeconds = clock.Elapsed.TotalSeconds;
            // Measured on the saved file, as every user will load it.
            using var saved = ShapesOracle.Load(path);
            var card = new OracleCard(options, trainSeconds, saved.parameters().Sum(p => p.numel()), new FileInfo(path).Length,
                OracleTrainer.Evaluate(saved, ShapesSplit.HeldOut, parse.GetValue(evalClips), OracleCard.EvaluationSeed),
                OracleTrainer.Evaluate(saved, ShapesSplit.Train, parse.GetValue(evalClips), OracleCard.EvaluationSeed));
            File.WriteAllText(Path.Combine(folder, "README.md"), card.Markdown());
            console.WriteLine(card.Summary());
            console.WriteLine($"wrote {path} and {Path.Combine(folder, "README.md")}");
            return 0;
        });
        return command;
    }
}
