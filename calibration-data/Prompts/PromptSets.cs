using Turbo.CalibrationData.Shapes;

namespace Turbo.CalibrationData.Prompts;

/// <summary>
/// The prompt lists other tools read: calibration prompts (training combinations, captioned like training
/// samples) and evaluation prompts (every full caption of every held-out combination). The files under
/// prompt-lists/ are written from here (`turbo-shapes prompts`) and a test keeps them equal to it.
/// </summary>
public static class PromptSets
{
    public const int CalibrationCount = 64;
    public const string CalibrationFile = "calibration.txt", EvaluationFile = "evaluation.txt", VocabularyFile = "vocabulary.txt";
    const ulong CalibrationSeed = 2024, TrainingSeed = 2026;

    /// <summary>The first 64 distinct captions of the training split of seed 2024.</summary>
    public static IReadOnlyList<string> Calibration()
    {
        var dataset = new ShapesDataset(CalibrationSeed);
        var prompts = new List<string>();
        var seen = new HashSet<string>();
        for (long i = 0; prompts.Count < CalibrationCount; i++)
        {
            string caption = dataset.Prompt(ShapesSplit.Train, i).Caption;
            if (seen.Add(caption)) prompts.Add(caption);
        }
        return prompts;
    }

    /// <summary>
    /// <paramref name="count"/> captions of the training split (seed 2026; repeats allowed, as in training): the
    /// prompts a distilled student learns from the teacher's own samples of them.
    /// </summary>
    public static IReadOnlyList<string> Training(int count)
    {
        var dataset = new ShapesDataset(TrainingSeed);
        return Enumerable.Range(0, count).Select(i => dataset.Prompt(ShapesSplit.Train, i).Caption).ToArray();
    }

    /// <summary>Every size × background × speed of every held-out triple, in a fixed order (288 prompts).</summary>
    public static IReadOnlyList<string> Evaluation() =>
        (from triple in HeldOutCombinations.Triples
         from size in Enum.GetValues<ShapeSize>()
         from background in Enum.GetValues<Backdrop>()
         from speed in FactorRules.HasSpeed(triple.Motion) ? Enum.GetValues<Speed>().Cast<Speed?>() : [null]
         select new StatedFactors(triple.Shape, triple.Colour, size, triple.Motion, background, speed).Caption).ToArray();

    public static IReadOnlyList<string> Vocabulary() => Captions.Vocabulary();

    /// <summary>Each file's name and lines, in the order they are written.</summary>
    public static IReadOnlyList<(string File, IReadOnlyList<string> Lines)> Files() =>
    [
        (CalibrationFile, Calibration()),
        (EvaluationFile, Evaluation()),
        (VocabularyFile, Vocabulary()),
    ];

    /// <summary>A file's text: one entry per line, "\n" after each.</summary>
    public static string Text(IEnumerable<string> lines) => string.Concat(lines.Select(line => line + "\n"));

    /// <summary>Writes the three lists into <paramref name="folder"/>; returns the paths written.</summary>
    public static IReadOnlyList<string> Write(string folder)
    {
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        foreach (var (file, lines) in Files())
        {
            string path = Path.Combine(folder, file);
            File.WriteAllText(path, Text(lines));
            written.Add(path);
        }
        return written;
    }
}
