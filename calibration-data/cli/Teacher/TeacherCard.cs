using System.Globalization;
using System.Text;

namespace Turbo.CalibrationData.Teacher;

/// <summary>The teacher's model card (model/README.md): recipe, data, training records and measured quality.</summary>
public static class TeacherCard
{
    public static void Write(string model, ModelQuality? quality, string? gridFile)
    {
        var text = new StringBuilder();
        text.AppendLine($"# {TeacherRecipe.Name}");
        text.AppendLine();
        text.AppendLine("A small text-to-video model with Wan2.1's architecture (UMT5 text encoder, Wan VAE, Wan2.1 DiT), trained by");
        text.AppendLine("Turbo on the synthetic Shapes clips (calibration-data/) as the bundled teacher. Layout: a diffusers repository.");
        text.AppendLine();
        text.AppendLine("## Recipe");
        text.AppendLine();
        var clips = TeacherRecipe.Clips;
        var vae = TeacherRecipe.Vae;
        var dit = TeacherRecipe.Transformer;
        var sampling = TeacherRecipe.Sampling;
        text.AppendLine(Invariant($"- clips: {clips.Frames} frames of {clips.Width}×{clips.Height}, training split only (held-out factor combinations never seen)"));
        text.AppendLine(Invariant($"- VAE: base {vae.BaseDim}, multipliers [{string.Join(", ", vae.DimMult)}], {vae.ZDim} latent channels, {vae.TemporalCompression}× time, {vae.SpatialCompression}× space; L1 + 1e-6·KL"));
        text.AppendLine(Invariant($"- text encoder: UMT5, fixed random init (seed {TeacherRecipe.TextEncoderSeed}), word-level tokenizer over the caption vocabulary, {TeacherRecipe.TextLength} tokens"));
        text.AppendLine(Invariant($"- DiT: dim {dit.Dim}, {dit.NumLayers} layers, {dit.NumHeads} heads of {dit.HeadDim}, patches {string.Join("×", dit.PatchSize)}; flow matching on a fixed pool of encoded training clips, caption dropout 0.1, EMA"));
        text.AppendLine("- rounds of training, their pools and schedules: calibration-data/README.md");
        text.AppendLine(Invariant($"- sampler: {sampling.Steps} UniPC steps, CFG {sampling.Guidance}, flow shift {sampling.Shift}"));
        text.AppendLine();
        text.AppendLine("## Training");
        text.AppendLine();
        text.AppendLine("| stage | parameters | steps | batch | lr | time | runs | device | measure |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (string stage in new[] { "vae", "transformer" })
            if (TrainingRecord.Load(model, stage) is { } r)
                text.AppendLine(Invariant($"| {r.Stage} | {r.Parameters:N0} | {r.StepsText} | {r.BatchSize} | {r.LearningRate} | {r.Seconds / 60:F1} min | {r.Runs} | {r.Device} | {string.Join(", ", r.Measures.Select(m => Invariant($"{m.Key} {m.Value:F3}")))} |"));
        text.AppendLine();
        text.AppendLine("## Quality (oracle, calibration-data/oracle-weights)");
        text.AppendLine();
        if (quality is null) text.AppendLine("Not evaluated yet: `turbo-shapes teacher-evaluate --model THIS_FOLDER`.");
        else
        {
            text.AppendLine(Invariant($"{quality.Prompts} held-out evaluation prompts, one clip each, {quality.Sampling.Steps} steps, CFG {quality.Sampling.Guidance}:"));
            text.AppendLine();
            text.AppendLine("| clips | prompt adherence | Fréchet distance |");
            text.AppendLine("|---|---|---|");
            text.AppendLine(Invariant($"| generated | {quality.Adherence:P1} | {quality.Frechet:F2} |"));
            text.AppendLine(Invariant($"| real (ceiling) | {quality.RealAdherence:P1} | {quality.RealFrechet:F2} |"));
            text.AppendLine();
            text.AppendLine("Per factor (generated): " + string.Join(", ", quality.PerFactor.Select(f => Invariant($"{f.Key} {f.Value:P1}"))));
            if (gridFile is not null) text.AppendLine($"\n![generated clips]({gridFile})");
        }
        string path = Path.Combine(model, "README.md"), temp = path + ".tmp";
        File.WriteAllText(temp, text.ToString());
        File.Move(temp, path, overwrite: true);
    }

    static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
