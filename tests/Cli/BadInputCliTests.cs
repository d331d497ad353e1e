using Turbo.Converter.Cli;
using Turbo.Tests.Support;

namespace Turbo.Tests.Cli;

public class BadInputCliTests : TempFolderFixture
{
    static void AssertUserError(CliRunner.Result r, params string[] fragments)
    {
        Assert.That(r.ExitCode, Is.EqualTo(CliInvocation.UserErrorExitCode), r.Err);
        Assert.That(r.Err, Does.StartWith("error: "));
        Assert.That(r.Err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), "one-line message");
        foreach (string f in fragments) Assert.That(r.Err, Does.Contain(f));
    }

    [Test]
    public void TruncatedFile()
    {
        string path = Temp.PathTo("truncated.safetensors");
        byte[] bytes = File.ReadAllBytes(Golden.Path(Golden.OriginalWeights));
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        AssertUserError(CliRunner.Run("inspect", path), path);
    }

    [Test]
    public void MissingPath() => AssertUserError(CliRunner.Run("inspect", Temp.PathTo("nothing-here")), "no such file or folder");

    [Test]
    public void UnknownFamily() =>
        AssertUserError(CliRunner.Run("inspect", Golden.Path("umt5.transformers.safetensors")), "unknown model family");

    [Test]
    public void WrongShape()
    {
        string path = Temp.PathTo("wan.safetensors");
        GoldenCopies.WriteEdited(path, t => t["head.head.weight"] = TorchSharp.torch.zeros(60, 64));
        AssertUserError(CliRunner.Run("inspect", path, "--config", Golden.Path(Golden.OriginalConfig)),
            "'head.head.weight'", "[60, 64]", "expected [64, 64]");
    }

    [Test]
    public void MissingConfigFile() =>
        AssertUserError(CliRunner.Run("inspect", Golden.Path(Golden.OriginalWeights), "--config", Temp.PathTo("none.json")),
            "config file not found");

    [Test]
    public void BadOptionValueIsAParseError()
    {
        var r = CliRunner.Run("synth", "--preset", "7b", "-o", Temp.PathTo("x"));
        Assert.That(r.ExitCode, Is.Not.EqualTo(0));
        Assert.That(r.Err, Does.Contain("7b"));
    }
}
