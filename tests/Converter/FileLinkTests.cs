using Turbo.Converter.Files;
using Turbo.Tests.Support;

namespace Turbo.Tests.Converter;

public class FileLinkTests : TempFolderFixture
{
    [Test]
    public void OnOneVolumeTheSecondNameIsALinkThatOutlivesTheFirst()
    {
        string source = Temp.PathTo("weights.bin"), destination = Temp.PathTo("package-weights.bin");
        byte[] bytes = [1, 2, 3, 4, 5];
        File.WriteAllBytes(source, bytes);
        bool linked = FileLink.LinkOrCopy(source, destination);
        Assert.That(linked, Is.EqualTo(!OperatingSystem.IsWindows()), "a hard link on Linux, within one folder");
        // A stage that runs again writes a new file and renames it over the old name: the other name keeps its bytes.
        File.WriteAllBytes(source + ".tmp", [9, 9]);
        File.Move(source + ".tmp", source, overwrite: true);
        Assert.That(File.ReadAllBytes(destination), Is.EqualTo(bytes));
        File.Delete(source);
        Assert.That(File.ReadAllBytes(destination), Is.EqualTo(bytes));
    }

    [Test]
    public void AnExistingDestinationIsRefused()
    {
        string source = Temp.PathTo("a.bin"), destination = Temp.PathTo("b.bin");
        File.WriteAllBytes(source, [1]);
        File.WriteAllBytes(destination, [2]);
        Assert.Throws<IOException>(() => FileLink.LinkOrCopy(source, destination));
        Assert.That(File.ReadAllBytes(destination), Is.EqualTo(new byte[] { 2 }));
    }
}
