using Turbo.Runtime.IO;

namespace Turbo.Tests.Support;

/// <summary>
/// The golden reference files written by the upstream libraries: in <c>TURBO_GOLDEN</c> if set, else in
/// <c>../shared/golden</c> beside the repository root.
/// </summary>
static class Golden
{
    public const string OriginalWeights = "wan_dit.original.safetensors";
    public const string OriginalConfig = "wan_dit.original.config.json";
    public const string DiffusersWeights = "wan_dit.diffusers.safetensors";
    public const string DiffusersConfig = "wan_dit.diffusers.config.json";
    public const string ForwardIO = "wan_dit.io.safetensors";
    public const string SamplingIO = "unipc_sampling.io.safetensors";

    public static string Folder
    {
        get
        {
            string? overridden = Environment.GetEnvironmentVariable("TURBO_GOLDEN");
            return System.IO.Path.GetFullPath(string.IsNullOrEmpty(overridden)
                ? System.IO.Path.Combine(Repository.Root, "..", "shared", "golden")
                : overridden);
        }
    }

    /// <summary>The path of a golden file; fails the test if it is missing.</summary>
    public static string Path(string name)
    {
        string path = System.IO.Path.Combine(Folder, name);
        Assert.That(File.Exists(path), Is.True, $"golden file {path} is missing (set TURBO_GOLDEN to the golden folder)");
        return path;
    }

    public static SafetensorsFile Open(string name) => SafetensorsFile.Open(Path(name));
}
