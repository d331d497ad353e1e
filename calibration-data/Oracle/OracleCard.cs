using System.Globalization;
using System.Text;
using Turbo.CalibrationData.Shapes;

namespace Turbo.CalibrationData.Oracle;

/// <summary>The oracle's model card: how it was trained and how well it reads fresh clips of each split.</summary>
public sealed record OracleCard(OracleTrainingOptions Training, double TrainSeconds, long Parameters, long FileBytes,
    AdherenceReport HeldOut, AdherenceReport Train)
{
    /// <summary>Clips measured for the card come from this dataset seed, which training never uses.</summary>
    public const ulong EvaluationSeed = 90210;

    public string Summary() => string.Join("\n", FactorRules.All.Select(f =>
        Invariant($"{f,-10} held-out {HeldOut.Accuracy(f):P2}  train {Train.Accuracy(f):P2}")).Append(Invariant($"trained in {TrainSeconds:F0} s")));

    public string Markdown()
    {
        var text = new StringBuilder();
        text.AppendLine("# Shapes oracle");
        text.AppendLine();
        text.AppendLine("A small video CNN (`Oracle/ShapesOracle.cs`) that reads every factor back from a Shapes clip, for prompt");
        text.AppendLine("adherence, and whose 128 penultimate activations are the features of the Fréchet distance between clip sets.");
        text.AppendLine("It sees 9 frames spread evenly over the clip at 32×32, plus frame-to-next differences, so it reads clips of");
        text.AppendLine("any frame count and size. Written by `turbo-shapes train-oracle`; every number below was measured by that");
        text.AppendLine("run on the saved file, with clips it never trained on.");
        text.AppendLine();
        text.AppendLine(Invariant($"- weights: `{ShapesOracle.DefaultFileName}`, {Parameters:N0} parameters, stored as float16, {FileBytes / 1024.0:F0} KiB"));
        text.AppendLine(Invariant($"- training: {Training.Steps} steps × {Training.BatchSize} fresh clips ({Training.Clips.Frames}×{Training.Clips.Height}×{Training.Clips.Width}) of every valid combination (held-out ones included: the oracle measures evaluation prompts; the held-out rule binds generators),"));
        text.AppendLine(Invariant($"  Gaussian noise σ ∈ [0, {Training.MaxNoise}], Adam, peak learning rate {Training.LearningRate}, seed {Training.Seed}"));
        text.AppendLine(Invariant($"- training time: {TrainSeconds:F0} s on the CPU ({Environment.ProcessorCount} cores)"));
        text.AppendLine(Invariant($"- accuracy: fresh clips of dataset seed {EvaluationSeed}, {HeldOut.PerFactor[Factor.Shape].Stated} per split (speed: clips whose motion has one)"));
        text.AppendLine();
        text.AppendLine("| factor | held-out combinations | training combinations |");
        text.AppendLine("|---|---|---|");
        foreach (var f in FactorRules.All)
            text.AppendLine(Invariant($"| {f.ToString().ToLowerInvariant()} | {HeldOut.Accuracy(f):P2} ({HeldOut.PerFactor[f].Correct}/{HeldOut.PerFactor[f].Stated}) | {Train.Accuracy(f):P2} ({Train.PerFactor[f].Correct}/{Train.PerFactor[f].Stated}) |"));
        text.AppendLine();
        text.AppendLine("Retrain (from the repository root):");
        text.AppendLine();
        text.AppendLine("```bash");
        text.AppendLine(Invariant($"dotnet run --project calibration-data -c Release -- train-oracle --steps {Training.Steps} --batch {Training.BatchSize} --lr {Training.LearningRate} --seed {Training.Seed}"));
        text.AppendLine("dotnet run --project calibration-data -c Release -- evaluate-oracle --clips 1000");
        text.AppendLine("```");
        return text.ToString();
    }

    static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
