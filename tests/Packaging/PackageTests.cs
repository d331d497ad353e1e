using System.Text.Json.Nodes;
using Turbo.Converter.Conversion;
using Turbo.Converter.Pipelines;
using Turbo.Runtime;
using Turbo.Runtime.Attention;
using Turbo.Runtime.Packaging;
using Turbo.Tests.Cli;
using Turbo.Tests.Conversion;
using Turbo.Tests.Support;
using Turbo.Tests.Teacher;
using static TorchSharp.torch;

namespace Turbo.Tests.Packaging;

public class PackageTests : TempFolderFixture
{
    (string Teacher, string Package) WritePackage(params string[] extra)
    {
        string teacher = MicroConversion.Teacher(Temp.Path), package = Temp.PathTo("micro.turbo");
        var r = CliRunner.Run(["package", teacher, "-o", package, .. extra]);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Err);
        return (teacher, package);
    }

    [Test]
    public void ATeacherPackageIsSelfContainedAndGeneratesWhatTheTeacherGenerates()
    {
        var (teacher, package) = WritePackage("--attention", "keep");
        var manifest = PackageFolder.Open(package);
        Assert.That(manifest.FormatVersion, Is.EqualTo(2));
        Assert.That(manifest.Family, Is.EqualTo("wan2.1"));
        Assert.That(manifest.Sampler, Is.EqualTo(MicroTeacher.Sampling.Sampler));
        Assert.That(manifest.Video, Is.EqualTo(new VideoSettings(5, 16, 16)));
        Assert.That(manifest.Quantization.Scheme, Is.EqualTo("none"));
        Assert.That(manifest.Stages.Select(s => s.Name), Is.EqualTo(new[] { "package" }));
        Assert.That(manifest.Files.Keys, Is.EquivalentTo(new[]
        {
            "transformer/diffusion_pytorch_model.safetensors", "text_encoder/config.json", "text_encoder/model.safetensors",
            "tokenizer/vocab.json", "vae/config.json", "vae/diffusion_pytorch_model.safetensors",
        }));
        Assert.That(manifest.Files["vae/diffusion_pytorch_model.safetensors"], Is.EqualTo(PackageFolder.Sha256(Path.Combine(teacher, "vae", "diffusion_pytorch_model.safetensors"))));
        Assert.That(manifest.Provenance.Teacher, Is.EqualTo("teacher"));
        Assert.That(manifest.Provenance.SourceFiles, Is.EqualTo(TeacherFiles.Hash(teacher)));
        Assert.That(Directory.GetFileSystemEntries(Temp.Path).Select(Path.GetFileName), Is.EquivalentTo(new[] { "teacher", "micro.turbo", "prompts.txt" }), "no scratch left");

        using var fromTeacher = WanTextToVideo.Load(teacher, CPU, ScalarType.Float32);
        using var fromPackage = WanTextToVideo.LoadPackage(package, CPU, ScalarType.Float32);
        Assert.That(fromPackage.Defaults, Is.EqualTo(fromTeacher.Defaults));
        using var expected = fromTeacher.Generate(MicroConversion.Prompts, seed: 3, fromTeacher.Defaults);
        using var actual = fromPackage.Generate(MicroConversion.Prompts, seed: 3, fromPackage.Defaults);
        Assert.That(actual.eq(expected).all().item<bool>(), "the package runs exactly as its teacher");
    }

    [Test]
    public void AChangedUnlistedOrMissingFileIsRefusedByName()
    {
        var (_, package) = WritePackage();
        string vae = Path.Combine(package, "vae", "diffusion_pytorch_model.safetensors");
        var bytes = File.ReadAllBytes(vae);
        bytes[^1] ^= 0x40;
        File.WriteAllBytes(vae, bytes);
        var e = Assert.Throws<TurboException>(() => PackageFolder.Open(package));
        Assert.That(e!.Message, Does.Contain("SHA-256").And.Contain("vae").And.Contain("diffusion_pytorch_model.safetensors"));
        Assert.That(e.Message, Does.Not.Contain("\n"));

        bytes[^1] ^= 0x40;
        File.WriteAllBytes(vae, bytes);
        Assert.That(PackageFolder.Open(package).Files, Has.Count.EqualTo(6), "restored");
        File.WriteAllText(Path.Combine(package, "tokenizer", "extra.json"), "{}");
        e = Assert.Throws<TurboException>(() => PackageFolder.Open(package));
        Assert.That(e!.Message, Does.Contain("extra.json").And.Contain("not listed"));

        File.Delete(Path.Combine(package, "tokenizer", "extra.json"));
        File.Delete(Path.Combine(package, "text_encoder", "config.json"));
        e = Assert.Throws<TurboException>(() => PackageFolder.Open(package));
        Assert.That(e!.Message, Does.Contain("config.json").And.Contain("missing"));

        var r = CliRunner.Run("validate", package, "--against", Temp.PathTo("teacher"), "--prompts-file", MicroConversion.PromptsFile(Temp.Path), "--prompts", "2", "--device", "cpu");
        Assert.That(r.ExitCode, Is.EqualTo(2), "the loader refuses it too: " + r.Err);
        Assert.That(r.Err.Trim(), Does.StartWith("error: ").And.Contain("config.json"));
    }

    [TestCase(1, "version 1 (a transformer-only package)")]
    [TestCase(3, "format version 3")]
    public void OtherFormatVersionsAreRefusedWithOneLine(int version, string expected)
    {
        var (_, package) = WritePackage();
        string manifestPath = Path.Combine(package, PackageManifest.FileName);
        var json = JsonNode.Parse(File.ReadAllText(manifestPath))!.AsObject();
        json["formatVersion"] = version;
        if (version == 1) json.Remove("video"); // a version-1 manifest lacks this version's fields
        File.WriteAllText(manifestPath, json.ToJsonString());
        var e = Assert.Throws<TurboException>(() => PackageFolder.Open(package));
        Assert.That(e!.Message, Does.Contain(expected).And.Contain(PackageManifest.FileName));
    }

    [Test]
    public void SageAttentionIsTheDefaultRecordedPerBlockAndRunByTheLoadedModel()
    {
        var (_, package) = WritePackage();
        var (manifest, model) = WanPackage.Load(package, ScalarType.Float32, CPU);
        using (model)
        {
            Assert.That(Enumerable.Range(0, manifest.Config.NumLayers).Select(manifest.Config.AttentionOf).Select(a => a.Kind),
                Is.All.EqualTo(AttentionKind.Sage));
            Assert.That(manifest.Stages.Single().Settings["attention"], Is.EqualTo("sage"));
        }

        var mixed = MicroTeacher.Transformer with
        {
            BlockAttention = [AttentionConfig.Dense with { Kind = AttentionKind.Sla, BlockQ = 64, BlockK = 64 }, AttentionConfig.Dense],
        };
        var sage = PackageStage.WithAttention(mixed, PackageStage.SageAttention);
        Assert.That(sage.BlockAttention!.Select(a => a.Kind), Is.EqualTo(new[] { AttentionKind.SageSla, AttentionKind.Sage }));
        using var perBlock = new Turbo.Runtime.Models.WanModel(mixed);
        var parameterNames = perBlock.named_parameters().Select(p => p.name).ToList();
        Assert.That(parameterNames, Has.Some.StartsWith("blocks.0.self_attn.attn_op.local_attn.proj_l"), "block 0 is SLA");
        Assert.That(parameterNames, Has.None.StartsWith("blocks.1.self_attn.attn_op"), "block 1 is dense");
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
        string teacher = MicroConversion.Teacher(Temp.Path);
        var r = CliRunner.Run("package", teacher, "-o", Temp.PathTo("taken.turbo"));
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("already exists"));
    }

    [Test]
    public void ManifestPathsCannotLeaveThePackage()
    {
        var e = Assert.Throws<TurboException>(() => PackageFolder.Resolve(Temp.Path, "../outside.bin"));
        Assert.That(e!.Message, Does.Contain("leaves the package folder"));
    }
}
