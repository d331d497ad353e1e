using System.Text.Json;
using Turbo.Runtime.IO;
using static TorchSharp.torch;
using Turbo.Tests.Support;

namespace Turbo.Tests.IO;

/// <summary>The golden files were written by the upstream Python safetensors library: our reader must take them as they are.</summary>
public class GoldenSafetensorsTests
{
    [TestCase("wan_dit.io.safetensors")]
    [TestCase("wan_dit.original.safetensors")]
    [TestCase("wan_dit.diffusers.safetensors")]
    [TestCase("wan_vae.io.safetensors")]
    [TestCase("wan_vae.diffusers.safetensors")]
    [TestCase("umt5.io.safetensors")]
    [TestCase("umt5.transformers.safetensors")]
    [TestCase("unipc_sampling.io.safetensors")]
    public void EveryTensorReadsAndMatchesItsBytes(string name)
    {
        using var file = Golden.Open(name);
        Assert.That(file.Tensors, Is.Not.Empty);
        foreach (var info in file.Tensors)
        {
            using var t = file.Read(info.Name);
            Assert.That(t.shape, Is.EqualTo(info.Shape), info.Name);
            Assert.That(t.bytes.ToArray(), Is.EqualTo(file.Bytes(info.Name).ToArray()), info.Name);
        }
    }

    [Test]
    public void WanDitInputsHaveTheDocumentedShapesAndValues()
    {
        using var file = Golden.Open(Golden.ForwardIO);
        var x = file.Info("x");
        Assert.That((x.DType, x.Shape), Is.EqualTo((SafetensorsDType.F32, new long[] { 1, 16, 3, 4, 6 })));
        Assert.That(file.Info("out").Shape, Is.EqualTo(new long[] { 1, 16, 3, 4, 6 }));
        Assert.That(file.Info("context").Shape, Is.EqualTo(new long[] { 1, 9, 48 }));
        using var timestep = file.Read("timestep");
        Assert.That(timestep.data<float>().ToArray(), Is.EqualTo(new[] { 700.0f }));
        using var xs = file.Read("x");
        Assert.That(xs.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(xs.std().item<float>(), Is.InRange(0.5f, 2f), "x holds real data (standard normal noise), not zeros");
    }

    [Test]
    public void Umt5InputsAreIntegers()
    {
        using var file = Golden.Open("umt5.io.safetensors");
        using var ids = file.Read("input_ids");
        using var mask = file.Read("attention_mask");
        Assert.That((ids.dtype, ids.shape), Is.EqualTo((ScalarType.Int64, new long[] { 1, 12 })));
        Assert.That(ids.data<long>().ToArray(), Is.All.InRange(0L, 96L), "token ids within the tiny vocabulary of 97");
        Assert.That(mask.data<long>().ToArray(), Is.EqualTo(Enumerable.Repeat(1L, 9).Concat(Enumerable.Repeat(0L, 3))));
    }

    [TestCase("wan_dit.diffusers.safetensors", "num_layers", 2)]
    [TestCase("umt5.transformers.safetensors", "d_model", 32)] // a multi-line JSON string: escapes must decode
    public void WeightsCarryTheirConfigAsMetadata(string name, string key, int expected)
    {
        using var checkpoint = Checkpoint.Open(Golden.Path(name));
        using var config = JsonDocument.Parse(checkpoint.Metadata["config"]);
        Assert.That(config.RootElement.GetProperty(key).GetInt32(), Is.EqualTo(expected));
    }

    [Test]
    public void OriginalWanWeightsUseOriginalNames()
    {
        using var checkpoint = Checkpoint.Open(Golden.Path(Golden.OriginalWeights));
        Assert.That(checkpoint.Metadata["format"], Is.EqualTo("pt"));
        Assert.That(checkpoint.Info("blocks.0.self_attn.q.weight").Shape, Is.EqualTo(new long[] { 64, 64 }));
        Assert.That(checkpoint.Info("patch_embedding.weight").Shape, Is.EqualTo(new long[] { 64, 16, 1, 2, 2 }));
    }
}
