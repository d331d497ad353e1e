using System.CommandLine;

namespace Turbo.CalibrationData.Cli;

/// <summary>
/// The turbo-shapes command line: prompt lists, previews, the oracle's training and evaluation, the bundled
/// teacher's training stages and evaluation, and the distillation stages of its students; run through CliInvocation
/// like every Turbo tool.
/// </summary>
public static class ShapesCli
{
    public static RootCommand Build() => new("The synthetic captioned \"Shapes\" video set: prompts, previews, its oracle, the bundled teacher and its distilled students.")
    {
        PromptsCommand.Create(),
        PreviewCommand.Create(),
        TrainOracleCommand.Create(),
        EvaluateOracleCommand.Create(),
        TeacherCommands.Vae(),
        TeacherCommands.Dit(),
        TeacherCommands.Evaluate(),
        TeacherCommands.VaeCeiling(),
        TeacherCommands.Card(),
        StudentCommands.Data(),
        StudentCommands.Rcm(),
        StudentCommands.Sla(),
        StudentCommands.Merge(),
    };

    /// <summary>Parses and runs <paramref name="args"/>, writing to the given streams (tests pass string writers).</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error) => Converter.Cli.CliInvocation.Run(Build(), args, output, error);
}
