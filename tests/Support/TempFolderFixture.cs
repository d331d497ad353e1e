namespace Turbo.Tests.Support;

/// <summary>Base of a fixture whose every test gets its own fresh <see cref="TempFolder"/>.</summary>
public abstract class TempFolderFixture
{
    protected TempFolder Temp { get; private set; } = null!;

    [SetUp]
    public void CreateTempFolder() => Temp = new TempFolder();

    [TearDown]
    public void DeleteTempFolder() => Temp.Dispose();
}
