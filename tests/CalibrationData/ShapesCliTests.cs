using Turbo.CalibrationData.Cli;
using Turbo.CalibrationData.Prompts;
using Turbo.Tests.Cli;

namespace Turbo.Tests.CalibrationData;

public sealed class ShapesCliTests : TensorScopePerTest
{

    [Test]
    public void PromptsWritesTheThreeLists()
    {
        string folder = Directory.CreateTempSubdirectory("turbo-prompts-").FullName;
        try
        {
            var (code, _, err) = CliRunner.RunShapes("prompts", "-o", folder);
            Assert.That(code, Is.EqualTo(0), err);
            foreach (var (file, lines) in PromptSets.Files())
                Assert.That(File.ReadAllText(Path.Combine(folder, file)), Is.EqualTo(PromptSets.Text(lines)));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void PreviewWritesAPngAndPrintsCaptions()
    {
        string folder = Directory.CreateTempSubdirectory("turbo-preview-").FullName;
        try
        {
            string png = Path.Combine(folder, "sheet.png");
            var (code, output, err) = CliRunner.RunShapes("preview", "--split", "heldout", "--count", "2", "--frames", "5", "-o", png);
            Assert.That(code, Is.EqualTo(0), err);
            Assert.That(File.ReadAllBytes(png).Take(8), Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }));
            Assert.That(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(2));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void BadOptionsAreOneLineUserErrors()
    {
        var (code, _, err) = CliRunner.RunShapes("preview", "--frames", "16", "-o", "unused.png");
        Assert.That(code, Is.EqualTo(Turbo.Converter.Cli.CliInvocation.UserErrorExitCode));
        Assert.That(err.Trim(), Does.StartWith("error: ").And.Contain("frames").And.Not.Contain("\n"));
        var (missingCode, _, missingErr) = CliRunner.RunShapes("evaluate-oracle", "--weights", "no/such/oracle.safetensors", "--clips", "1");
        Assert.That(missingCode, Is.EqualTo(Turbo.Converter.Cli.CliInvocation.UserErrorExitCode));
        Assert.That(missingErr, Does.Contain("no/such/oracle.safetensors"));
    }
}
