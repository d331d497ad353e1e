using Turbo.Quantizer;

namespace Turbo.Converter.Conversion;

/// <summary>
/// One step of the conversion recipe (distill, sparsify, quantize, package, validate): it reads the model state
/// the previous stage left, writes what it makes into its own folder, and returns the new state. A stage is a pure
/// function of its input state and <see cref="Settings"/>, which is what lets a stopped run skip finished stages.
/// </summary>
public interface IConversionStage
{
    /// <summary>Short name: the stage's folder in the work folder, its subcommand, its record in the package.</summary>
    string Name { get; }

    /// <summary>Every setting that shapes the stage's output (hashed into its "done" marker), as invariant text.</summary>
    IReadOnlyDictionary<string, string> Settings { get; }

    StageResult Run(StageContext context);

    /// <summary>
    /// Whether a finished run's output is still in place (checked before it is skipped on resume): e.g. the package
    /// a package stage wrote. <paramref name="result"/> is what that run returned.
    /// </summary>
    bool OutputIntact(StageContext context, StageOutcome result) => true;
}

/// <param name="Input">the state the previous stage left (the teacher's for the first)</param>
/// <param name="Folder">the stage's own folder (exists; may hold what an interrupted run of this stage left)</param>
public sealed record StageContext(ModelState Input, string Folder, IStageProgress Progress);

/// <param name="Output">the state the next stage reads</param>
/// <param name="Summary">a few key → value lines for the run's summary table</param>
/// <param name="ExitCode">0, or the code the run ends with although the stage finished (a failed validation gate)</param>
public sealed record StageResult(ModelState Output, IReadOnlyList<KeyValuePair<string, string>> Summary, int ExitCode = 0)
{
    public StageOutcome Outcome => new(Summary, ExitCode);
}

/// <summary>What a finished stage reported, kept in its marker so a resumed run can report it again.</summary>
public sealed record StageOutcome(IReadOnlyList<KeyValuePair<string, string>> Summary, int ExitCode);
