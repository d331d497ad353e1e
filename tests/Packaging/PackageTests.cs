using System.Text.Json.Nodes;
using Turbo.Converter.Checkpoints;
using Turbo.Converter.Packaging;
using Turbo.Runtime;
using Turbo.Runtime.Packaging;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Packaging;

public class PackageTests : TempFolderFixture
{
    string WriteGoldenPackage()
    {
        string source = GoldenCopies.WithConfigBeside(Temp.PathTo("source"), Golden.DiffusersWeights, Golden.DiffusersConfig);
        using var checkpoint = AdaptedCheckpoints.OpenWan(Temp.PathTo("source"), null);
        string package = Temp.PathTo("golden.turbo");
        TeacherPackager.Write(checkpoint, package);
        Assert.That(File.Exists(source));
        return package;
    }

    [Test]
    public void TeacherPackageRunsLikeItsCheckpoint()
    {
        string package = WriteGoldenPackage();
        var (manifest, model) = WanPackage.Load(package, ScalarType.Float32, CPU);
        using (model)
        {
            using var output = GoldenWan.Forward(model);
            using var io = Golden.Open(Golden.ForwardIO);
            using var expected = io.Read("out");
            Assert.That(RelativeError.Of(output, expected), Is.LessThanOrEqualTo(1e-4));
        }
        Assert.That(manifest.Family, Is.EqualTo("wan2.1"));
        Assert.That(manifest.Sampler, Is.EqualTo(SamplerSettings.WanTeacher));
        Assert.That(manifest.Files.Keys, Is.EquivalentTo(new[] { manifest.Weights }));
        Assert.That(manifest.Provenance.SourceFiles.Keys, Is.EquivalentTo(new[] { Golden.DiffusersWeights }));
        Assert.That(Directory.GetDirectories(Temp.Path).Where(d => d.Contains(".partial-")), Is.Empty);
    }

    [Test]
    public void ChangedWeightsAreRefused()
    {
        string package = WriteGoldenPackage();
        string weights = Path.Combine(package, "transformer", "diffusion_pytorch_model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        bytes[^1] ^= 0x40;
        File.WriteAllBytes(weights, bytes);
        var e = Assert.Throws<TurboException>(() => PackageFolder.Open(package));
        Assert.That(e!.Message, Does.Contain("SHA-256").And.Contain("diffusion_pytorch_model.safetensors"));
    }

    [Test]
    public void OtherFormatVersionsAreRefused()
    {
        string package = WriteGoldenPackage();
        string manifestPath = Path.Combine(package, PackageManifest.FileName);
        var json = JsonNode.Parse(File.ReadAllText(manifestPath))!;
        json["formatVersion"] = 2;
        File.WriteAllText(manifestPath, json.ToJsonString());
        var e = Assert.Throws<TurboException>(() => PackageFolder.Open(package));
        Assert.That(e!.Message, Does.Contain("format version 2"));
    }

    [Test]
    public void AnAbandonedWriteLeavesNoFolder()
    {
        string destination = Temp.PathTo("abandoned.turbo");
        using (var writer = new PackageWriter(destination))
            File.WriteAllText(writer.PathFor("transformer/partial.bin"), "half");
        Assert.That(Directory.Exists(destination), Is.False);
        Assert.That(Directory.GetDirectories(Temp.Path), Is.Empty);
    }

    [Test]
    public void AnExistingDestinationIsNotOverwritten()
    {
        Directory.CreateDirectory(Temp.PathTo("taken.turbo"));
        var e = Assert.Throws<TurboException>(() => new PackageWriter(Temp.PathTo("taken.turbo")));
        Assert.That(e!.Message, Does.Contain("already exists"));
    }

    [Test]
    public void ManifestPathsCannotLeaveThePackage()
    {
        var e = Assert.Throws<TurboException>(() => PackageFolder.Resolve(Temp.Path, "../outside.bin"));
        Assert.That(e!.Message, Does.Contain("leaves the package folder"));
    }
}
