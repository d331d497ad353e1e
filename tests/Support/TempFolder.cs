namespace Turbo.Tests.Support;

/// <summary>A fresh folder under the system temp directory, deleted with everything in it on dispose.</summary>
public sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("turbo-tests-").FullName;

    /// <summary>A path inside the folder (nothing is created), e.g. <c>PathTo("out.safetensors")</c>.</summary>
    public string PathTo(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
    }
}
