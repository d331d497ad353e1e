using Turbo.Converter.Checkpoints;
using Turbo.Converter.Families.Wan;
using Turbo.Converter.Running;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Converter;

/// <summary>
/// Whatever naming or file layout the golden weights come in, the adapter must hand the model the same weights:
/// every variant's forward output equals upstream's golden `out`.
/// </summary>
public class ForwardParityTests : TempFolderFixture
{
    static double ForwardRelativeError(string checkpointPath, string? configPath, WanNaming expectedNaming)
    {
        using var checkpoint = AdaptedCheckpoints.OpenWan(checkpointPath, configPath);
        Assert.That(checkpoint.NamingKind, Is.EqualTo(expectedNaming));
        using var model = WanModelLoader.Load(checkpoint, ScalarType.Float32, CPU);
        using var output = GoldenWan.Forward(model);
        using var io = Golden.Open(Golden.ForwardIO);
        using var expected = io.Read("out");
        return RelativeError.Of(output, expected);
    }

    [Test]
    public void OriginalNaming()
    {
        string weights = GoldenCopies.WithConfigBeside(Temp.Path, Golden.OriginalWeights, Golden.OriginalConfig);
        Assert.That(ForwardRelativeError(weights, null, WanNaming.Original), Is.LessThanOrEqualTo(1e-4));
    }

    [Test]
    public void DiffusersNaming()
    {
        GoldenCopies.WithConfigBeside(Temp.Path, Golden.DiffusersWeights, Golden.DiffusersConfig);
        Assert.That(ForwardRelativeError(Temp.Path, null, WanNaming.Diffusers), Is.LessThanOrEqualTo(1e-4));
    }

    [Test]
    public void DiffusersNamingReproducesEveryIntermediate()
    {
        GoldenCopies.WithConfigBeside(Temp.Path, Golden.DiffusersWeights, Golden.DiffusersConfig);
        using var checkpoint = AdaptedCheckpoints.OpenWan(Temp.Path, null);
        using var model = WanModelLoader.Load(checkpoint, ScalarType.Float32, CPU);
        var errors = GoldenWan.ForwardErrors(model);
        foreach (var (name, error) in errors) TestContext.Out.WriteLine($"{name}: rel err {error:E2}");
        Assert.That(errors.Keys, Has.Count.EqualTo(7));
        foreach (var (name, error) in errors) Assert.That(error, Is.LessThanOrEqualTo(1e-4), name);
    }

    [Test]
    public void ComfyUIPrefixedCopy()
    {
        string path = Temp.PathTo("wan2.1_t2v_tiny_comfy.safetensors");
        GoldenCopies.WriteComfyUI(path);
        Assert.That(ForwardRelativeError(path, Golden.Path(Golden.OriginalConfig), WanNaming.ComfyUI), Is.LessThanOrEqualTo(1e-4));
    }

    [Test]
    public void ShardedCopy()
    {
        GoldenCopies.WriteShardedWithConfig(Temp.Path, maxShardBytes: 150_000);
        Assert.That(Directory.GetFiles(Temp.Path, "*-of-*.safetensors"), Has.Length.GreaterThanOrEqualTo(4));
        Assert.That(ForwardRelativeError(Temp.Path, null, WanNaming.Original), Is.LessThanOrEqualTo(1e-4));
    }

    [Test]
    public void ParityFailsWhenOneWeightDiffers()
    {
        // The comparison must be able to fail: zeroing one block's cross-attention norm scale moves the output.
        string path = Temp.PathTo("wan.safetensors");
        GoldenCopies.WriteEdited(path, tensors =>
        {
            using var noGrad = no_grad();
            var weight = tensors["blocks.0.norm3.weight"];
            tensors["blocks.0.norm3.weight"] = weight * 0;
        });
        Assert.That(ForwardRelativeError(path, Golden.Path(Golden.OriginalConfig), WanNaming.Original), Is.GreaterThan(1e-3));
    }
}
