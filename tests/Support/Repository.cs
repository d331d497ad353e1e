namespace Turbo.Tests.Support;

/// <summary>The checkout the tests run from: the folder holding Toolkit.sln, found by walking up from the test assembly.</summary>
static class Repository
{
    public static string Root
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Toolkit.sln"))) return dir.FullName;
            throw new DirectoryNotFoundException("no Toolkit.sln above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>A file committed to the repository, e.g. <c>FilePath("tests", "IO", "Data", name)</c>.</summary>
    public static string FilePath(params string[] parts)
    {
        string path = Path.GetFullPath(Path.Combine([Root, .. parts]));
        Assert.That(File.Exists(path), Is.True, $"{path} is missing (it is part of the repository)");
        return path;
    }
}
