using Turbo.Converter.Checkpoints;
using Turbo.Converter.Families.Wan;
using Turbo.Converter.Running;
using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Tests.Converter;

/// <summary>
/// Whatever naming or file layout the golden weights come in, the adapter must hand the model the same weights:
/// every variant's forward output equals upstream's golden `out`.
/// </summary>
public class ForwardParityTests
{
    ScratchFolder _scratch = null!;

    [SetUp]
    public void CreateScratch() => _scratch = new ScratchFolder();

    [TearDown]
    public void DeleteScratch() => _scratch.Dispose();

    static double ForwardRelativeError(string checkpointPath, string? configPath, WanNaming expectedNaming)
    {
        using var checkpoint = AdaptedCheckpoints.OpenWan(checkpointPath, configPath);
        Assert.That(checkpoint.NamingKind, Is.EqualTo(expectedNaming));
        using var model = WanModelLoader.Load(checkpoint, ScalarType.Float32, CPU);
        using var io = SafetensorsFile.Open(GoldenFiles.Path(GoldenFiles.ForwardIO));
        using var x = io.Read("x");
        using var timestep = io.Read("timestep");
        using var context = io.Read("context");
        using var expected = io.Read("out");
        using var noGrad = no_grad();
        using var output = model.Forward(x, timestep, context);
        return RelativeError(output, expected);
    }

    public static double RelativeError(Tensor ours, Tensor expected)
    {
        Assert.That(ours.shape, Is.EqualTo(expected.shape), "shape");
        using var a = ours.to(ScalarType.Float64);
        using var b = expected.to(ScalarType.Float64);
        using var diff = (a - b).abs().max();
        using var scale = b.abs().max();
        return diff.item<double>() / scale.item<double>();
    }

    [Test]
    public void OriginalNaming()
    {
        string weights = GoldenCopies.WithConfigBeside(_scratch.Root, GoldenFiles.OriginalWeights, GoldenFiles.OriginalConfig);
        Assert.That(ForwardRelativeError(weights, null, WanNaming.Original), Is.LessThanOrEqualTo(1e-4));
    }

    [Test]
    public void DiffusersNaming()
    {
        GoldenCopies.WithConfigBeside(_scratch.Root, GoldenFiles.DiffusersWeights, GoldenFiles.DiffusersConfig);
        Assert.That(ForwardRelativeError(_scratch.Root, null, WanNaming.Diffusers), Is.LessThanOrEqualTo(1e-4));
    }

    [Test]
    public void ComfyUIPrefixedCopy()
    {
        string path = _scratch.Sub("wan2.1_t2v_tiny_comfy.safetensors");
        GoldenCopies.WriteEdited(path, tensors =>
        {
            foreach (string name in tensors.Keys.ToArray())
            {
                tensors[WanNames.ComfyPrefix + name] = tensors[name];
                tensors.Remove(name);
            }
        });
        Assert.That(ForwardRelativeError(path, GoldenFiles.Path(GoldenFiles.OriginalConfig), WanNaming.ComfyUI), Is.LessThanOrEqualTo(1e-4));
    }

    [Test]
    public void ShardedCopy()
    {
        GoldenCopies.WriteSharded(_scratch.Root, maxShardBytes: 150_000);
        File.Copy(GoldenFiles.Path(GoldenFiles.OriginalConfig), _scratch.Sub("config.json"));
        Assert.That(Directory.GetFiles(_scratch.Root, "*-of-*.safetensors"), Has.Length.GreaterThanOrEqualTo(4));
        Assert.That(ForwardRelativeError(_scratch.Root, null, WanNaming.Original), Is.LessThanOrEqualTo(1e-4));
    }

    [Test]
    public void ParityFailsWhenOneWeightDiffers()
    {
        // The comparison must be able to fail: zeroing one block's cross-attention norm scale moves the output.
        string path = _scratch.Sub("wan.safetensors");
        GoldenCopies.WriteEdited(path, tensors =>
        {
            using var noGrad = no_grad();
            var weight = tensors["blocks.0.norm3.weight"];
            tensors["blocks.0.norm3.weight"] = weight * 0;
        });
        Assert.That(ForwardRelativeError(path, GoldenFiles.Path(GoldenFiles.OriginalConfig), WanNaming.Original), Is.GreaterThan(1e-3));
    }
}
