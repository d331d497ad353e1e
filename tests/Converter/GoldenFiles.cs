namespace Turbo.Tests.Converter;

/// <summary>
/// The golden reference folder: TURBO_GOLDEN if set, else ../shared/golden beside the repository root (the folder
/// holding Toolkit.sln, found by walking up from the test assembly).
/// </summary>
public static class GoldenFiles
{
    public static string Folder
    {
        get
        {
            string? overridden = Environment.GetEnvironmentVariable("TURBO_GOLDEN");
            if (!string.IsNullOrEmpty(overridden)) return overridden;
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(System.IO.Path.Combine(dir.FullName, "Toolkit.sln")))
                    return System.IO.Path.GetFullPath(System.IO.Path.Combine(dir.FullName, "..", "shared", "golden"));
            throw new InvalidOperationException("Toolkit.sln not found above " + AppContext.BaseDirectory);
        }
    }

    public static string Path(string name)
    {
        string path = System.IO.Path.Combine(Folder, name);
        Assert.That(File.Exists(path), Is.True, $"golden file {path} is missing (set TURBO_GOLDEN to the golden folder)");
        return path;
    }

    public const string OriginalWeights = "wan_dit.original.safetensors";
    public const string OriginalConfig = "wan_dit.original.config.json";
    public const string DiffusersWeights = "wan_dit.diffusers.safetensors";
    public const string DiffusersConfig = "wan_dit.diffusers.config.json";
    public const string ForwardIO = "wan_dit.io.safetensors";
    public const string SamplingIO = "unipc_sampling.io.safetensors";
}
