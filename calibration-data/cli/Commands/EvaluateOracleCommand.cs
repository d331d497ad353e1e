using System.CommandLine;
using System.Globalization;
using Turbo.CalibrationData.Oracle;
using Turbo.CalibrationData.Shapes;

namespace Turbo.CalibrationData.Cli;

/// <summary>`evaluate-oracle`: per-factor accuracy of saved oracle weights on fresh clips of both splits.</summary>
public static class EvaluateOracleCommand
{
    public static Command Create()
    {
        var weights = new Option<string>("--weights") { Description = "oracle safetensors (default: the committed one beside the program)", DefaultValueFactory = _ => ShapesOracle.DefaultPath };
        var clips = new Option<int>("--clips") { Description = "fresh clips per split", DefaultValueFactory = _ => 1000 };
        var seed = new Option<ulong>("--seed") { Description = "dataset seed of the clips", DefaultValueFactory = _ => OracleCard.EvaluationSeed };
        var command = new Command("evaluate-oracle", "Measure how well oracle weights read the factors of fresh clips.") { weights, clips, seed };
        command.SetAction(parse =>
        {
            int count = parse.GetValue(clips);
            if (count < 1) throw new Turbo.Runtime.TurboException($"--clips {count}: expected at least 1");
            using var oracle = ShapesOracle.Load(parse.GetRequiredValue(weights));
            var console = parse.InvocationConfiguration.Output;
            foreach (var split in new[] { ShapesSplit.HeldOut, ShapesSplit.Train })
            {
                var report = OracleTrainer.Evaluate(oracle, split, count, parse.GetValue(seed));
                console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{split}: adherence {report.Adherence:P2} over {report.Stated} factors"));
                foreach (var factor in FactorRules.All)
                    console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {factor,-10} {report.Accuracy(factor):P2} ({report.PerFactor[factor].Correct}/{report.PerFactor[factor].Stated})"));
            }
            return 0;
        });
        return command;
    }
}
