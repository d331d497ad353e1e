namespace Turbo.Tests.IO;

/// <summary>
/// The golden reference tensors: <c>TURBO_GOLDEN</c> if set, else <c>../shared/golden</c> beside the repository
/// root (the folder holding Toolkit.sln, found by walking up from the test assembly).
/// </summary>
static class GoldenFolder
{
    public static string File(string name)
    {
        string? dir = Environment.GetEnvironmentVariable("TURBO_GOLDEN");
        if (string.IsNullOrEmpty(dir))
        {
            var repo = new DirectoryInfo(AppContext.BaseDirectory);
            while (repo is not null && !System.IO.File.Exists(Path.Combine(repo.FullName, "Toolkit.sln"))) repo = repo.Parent;
            Assert.That(repo, Is.Not.Null, "no Toolkit.sln above " + AppContext.BaseDirectory);
            dir = Path.Combine(repo!.FullName, "..", "shared", "golden");
        }
        string path = Path.GetFullPath(Path.Combine(dir, name));
        Assert.That(System.IO.File.Exists(path), Is.True, $"golden file {path} is missing (set TURBO_GOLDEN to the golden folder)");
        return path;
    }
}
