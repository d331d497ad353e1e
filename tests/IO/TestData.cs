namespace Turbo.Tests.IO;

/// <summary>Locates test inputs relative to the repository root (the folder holding Toolkit.sln above the test assembly).</summary>
static class TestData
{
    /// <summary>A golden reference file: in <c>TURBO_GOLDEN</c> if set, else in <c>../shared/golden</c> beside the repository root.</summary>
    public static string Golden(string name)
    {
        string? dir = Environment.GetEnvironmentVariable("TURBO_GOLDEN");
        if (string.IsNullOrEmpty(dir)) dir = Path.Combine(RepositoryRoot(), "..", "shared", "golden");
        return Existing(Path.Combine(dir, name), "set TURBO_GOLDEN to the golden folder");
    }

    /// <summary>A file in tests/IO/Data, written by the reference Python safetensors implementation (see the README there).</summary>
    public static string Reference(string name) => Existing(Path.Combine(RepositoryRoot(), "tests", "IO", "Data", name), "it is part of the repository");

    static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Toolkit.sln"))) dir = dir.Parent;
        Assert.That(dir, Is.Not.Null, "no Toolkit.sln above " + AppContext.BaseDirectory);
        return dir!.FullName;
    }

    static string Existing(string path, string hint)
    {
        path = Path.GetFullPath(path);
        Assert.That(File.Exists(path), Is.True, $"{path} is missing ({hint})");
        return path;
    }
}
