using Turbo.CalibrationData.Oracle;
using Turbo.CalibrationData.Prompts;
using Turbo.CalibrationData.Shapes;
using Turbo.Converter.Pipelines;
using Turbo.Runtime;
using Turbo.Runtime.Text;
using static TorchSharp.torch;

namespace Turbo.Converter.Validation;

/// <summary>
/// The judge of models of the synthetic Shapes captions (the bundled teacher tiny-wan-t2v): calibration and
/// held-out evaluation prompts from calibration-data, prompt adherence and Fréchet distance read by the oracle.
/// It recognizes a teacher by its tokenizer, whose vocabulary is exactly the captions' words, and clips the oracle
/// can compare with real ones (sides of 32 to 128 pixels).
/// </summary>
public sealed class ShapesOracleJudge : IQualityJudge
{
    public string Name => "shapes-oracle";

    public bool Recognizes(string teacher)
    {
        string vocabulary = Path.Combine(teacher, "tokenizer", WanTextToVideo.TokenizerFile);
        if (!File.Exists(vocabulary) || !File.Exists(Path.Combine(teacher, WanTextToVideo.IndexFile))) return false;
        try
        {
            var words = WordTokenizer.Load(vocabulary).Vocabulary.Keys
                .Where(w => w is not (WordTokenizer.PadToken or WordTokenizer.EndToken or WordTokenizer.UnknownToken));
            var size = WanTextToVideo.ReadIndex(teacher);
            return words.ToHashSet().SetEquals(PromptSets.Vocabulary()) && Fits(size.Height) && Fits(size.Width);
        }
        catch (TurboException) { return false; }
    }

    static bool Fits(int side) => side is >= ShapesOptions.MinSide and <= ShapesOptions.MaxSide && side % 16 == 0;

    public IReadOnlyList<string> CalibrationPrompts => PromptSets.Calibration();

    public IReadOnlyList<string> TrainingPrompts(int count) => PromptSets.Training(count);

    public IReadOnlyList<string> EvaluationPrompts => PromptSets.Evaluation();

    public JudgeScores Score(Tensor clips, IReadOnlyList<string> prompts)
    {
        if (!Fits((int)clips.shape[3]) || !Fits((int)clips.shape[4]))
            throw new TurboException($"the Shapes oracle compares clips of {ShapesOptions.MinSide} to {ShapesOptions.MaxSide} pixels a side, these are {clips.shape[4]}×{clips.shape[3]}");
        var scores = OracleQuality.Score(clips, prompts);
        return new JudgeScores(scores.Adherence, scores.Frechet, scores.RealAdherence, scores.RealFrechet);
    }
}
