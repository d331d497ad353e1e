using Turbo.Runtime;
using Turbo.Runtime.Packaging;

namespace Turbo.Converter.Conversion;

/// <summary>The files of a teacher folder that a package is made from, and their SHA-256.</summary>
public static class TeacherFiles
{
    /// <summary>The folders a text-to-video package takes from its teacher, and the index describing them.</summary>
    public static readonly string[] Parts = ["model_index.json", "transformer", "text_encoder", "tokenizer", "vae"];

    /// <summary>Relative path (forward slashes) → SHA-256 of every file of the parts, in ordinal order.</summary>
    public static IReadOnlyDictionary<string, string> Hash(string teacher)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string part in Parts)
        {
            string path = Path.Combine(teacher, part);
            if (File.Exists(path)) files[part] = PackageFolder.Sha256(path);
            else if (Directory.Exists(path))
                foreach (string file in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories))
                    files[Path.GetRelativePath(teacher, file).Replace(Path.DirectorySeparatorChar, '/')] = PackageFolder.Sha256(file);
            else throw new TurboException($"{teacher}: {part} is missing (a text-to-video model folder has {string.Join(", ", Parts)})");
        }
        return files;
    }

    /// <summary>Throws unless the teacher's files are still those of <paramref name="state"/> (a resumed conversion must not mix teachers).</summary>
    public static void CheckUnchanged(ModelState state)
    {
        var now = Hash(state.Teacher);
        var changed = state.TeacherFiles.Keys.Union(now.Keys).Order(StringComparer.Ordinal)
            .FirstOrDefault(f => state.TeacherFiles.GetValueOrDefault(f) != now.GetValueOrDefault(f));
        if (changed is not null)
            throw new TurboException($"{Path.Combine(state.Teacher, changed)}: changed since this conversion began; start a new conversion (remove the work folder)");
    }
}
