namespace Turbo.Tests.Converter;

/// <summary>A fresh temporary folder, deleted on dispose.</summary>
public sealed class ScratchFolder : IDisposable
{
    public ScratchFolder() => Directory.CreateDirectory(Root);

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "turbo-converter-" + Guid.NewGuid().ToString("N"));

    public string Sub(params string[] parts) => Path.Combine([Root, .. parts]);

    public void Dispose()
    {
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
    }
}
