using Turbo.Runtime;

namespace Turbo.Converter.Conversion;

/// <summary>
/// The folder a conversion works in (by default beside the package: <c>PKG.work/</c>): <c>run.json</c>, the
/// teacher's state when the conversion began, and one folder per stage, named after it, holding what the stage
/// wrote, its output <c>state.json</c> and, once finished, its <c>done.json</c>.
/// </summary>
public sealed class WorkFolder
{
    public const string RunFile = "run.json";

    public string Root { get; }

    /// <summary>The folder at <paramref name="root"/> as it is (created); <see cref="Prepare"/> starts or resumes a conversion in one.</summary>
    public WorkFolder(string root) => Root = Directory.CreateDirectory(root).FullName;

    public static string DefaultFor(string package) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(package)) + ".work";

    /// <summary>
    /// A new work folder for a conversion of <paramref name="teacher"/>, or with <paramref name="resume"/> the one a
    /// stopped conversion left (its teacher's files must be unchanged); returns it and the state the first stage reads.
    /// </summary>
    public static (WorkFolder Work, ModelState Initial) Prepare(string root, string teacher, bool resume)
    {
        root = Path.GetFullPath(root);
        string run = Path.Combine(root, RunFile);
        if (resume && File.Exists(run))
        {
            var state = ModelState.Load(run);
            if (state.Teacher != Path.GetFullPath(teacher))
                throw new TurboException($"{root}: this work folder converts {state.Teacher}, not {Path.GetFullPath(teacher)}");
            TeacherFiles.CheckUnchanged(state);
            return (new WorkFolder(root), state);
        }
        if (Directory.Exists(root) && Directory.EnumerateFileSystemEntries(root).Any())
            throw new TurboException($"{root}: a conversion's work folder is already there; pass --resume to continue it, or remove it");
        var initial = ModelState.FromTeacher(teacher);
        Directory.CreateDirectory(root);
        Files.AtomicFile.WriteAllText(run, initial.ToJson());
        return (new WorkFolder(root), initial);
    }

    /// <summary>The folder of stage <paramref name="name"/> (created).</summary>
    public string StageFolder(string name) => Directory.CreateDirectory(Path.Combine(Root, name)).FullName;
}
