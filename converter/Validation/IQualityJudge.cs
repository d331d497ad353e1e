using static TorchSharp.torch;

namespace Turbo.Converter.Validation;

/// <summary>
/// Knows the subject of a family of teachers: which prompts to calibrate and to evaluate them on, and how well a
/// set of clips answers its prompts. Validation always compares package against teacher clip by clip (PSNR, SSIM);
/// a judge adds what a reference-free measure can say about both (e.g. the Shapes oracle's prompt adherence).
/// </summary>
public interface IQualityJudge
{
    /// <summary>The name that --judge selects it by.</summary>
    string Name { get; }

    /// <summary>Whether <paramref name="teacher"/> (a diffusers-layout folder) is a model this judge knows.</summary>
    bool Recognizes(string teacher);

    /// <summary>Prompts to calibrate on (what the model was trained to answer).</summary>
    IReadOnlyList<string> CalibrationPrompts { get; }

    /// <summary>Prompts to distil on (from the training split where the judge knows it): the first <paramref name="count"/>.</summary>
    IReadOnlyList<string> TrainingPrompts(int count);

    /// <summary>Prompts to evaluate on (held out from training where the judge knows the split).</summary>
    IReadOnlyList<string> EvaluationPrompts { get; }

    /// <summary>Clips [N, 3, T, H, W] in [-1, 1], clip i generated for prompt i → the judge's measures.</summary>
    JudgeScores Score(Tensor clips, IReadOnlyList<string> prompts);
}

/// <summary>What a judge says of a set of clips, and of real clips of the same prompts where it has them.</summary>
/// <param name="Adherence">share of what the prompts state that the clips show (0–1)</param>
/// <param name="Frechet">Fréchet distance of the clips' features to real clips of the same prompts (lower is closer)</param>
/// <param name="RealAdherence">the same share for real clips: the ceiling</param>
/// <param name="RealFrechet">the distance between two real sets: the floor</param>
public sealed record JudgeScores(double Adherence, double Frechet, double RealAdherence, double RealFrechet);
