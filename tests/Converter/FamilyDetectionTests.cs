using Turbo.Converter.Checkpoints;
using Turbo.Converter.Families;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Converter;

public class FamilyDetectionTests
{
    [Test]
    public void UnknownFamilyListsUnexplainedNamesAndSaysNothingMatched()
    {
        string vae = Golden.Path("wan_vae.diffusers.safetensors");
        var e = Assert.Throws<TurboException>(() => AdaptedCheckpoints.Open(vae, null));
        Assert.That(e!.Message, Does.Contain(vae).And.Contain("unknown model family").And.Contain("'decoder.")
            .And.Contain("no known family"));
    }

    [Test]
    public void UnknownFamilyNamesTheClosestKnownOne()
    {
        // A Wan-like file with most of its names changed: below the recognition threshold, but closest to Wan2.1.
        var tensors = new List<TensorInfo>
        {
            Info("patch_embedding.weight"), Info("patch_embedding.bias"), Info("text_embedding.0.weight"),
            Info("time_embedding.0.weight"), Info("blocks.0.self_attn.q.weight"), Info("my_layer.weight"),
        };
        var e = Assert.Throws<TurboException>(() => FamilyRegistry.Detect(tensors, "x.safetensors"));
        Assert.That(e!.Message, Does.Contain("unknown model family").And.Contain("'my_layer.weight'")
            .And.Contain("closest: wan2.1 (original naming, 5/42"));
    }

    [Test]
    public void RecognisedButUnconvertibleFamilyIsNamed()
    {
        using var temp = new TempFolder();
        string path = temp.PathTo("cogvideox.safetensors");
        string[] names =
        [
            "patch_embed.proj.weight", "patch_embed.text_proj.weight", "time_embedding.linear_1.weight", "time_embedding.linear_2.weight",
            "transformer_blocks.0.norm1.linear.weight", "transformer_blocks.0.norm1.norm.weight", "transformer_blocks.0.attn1.to_q.weight",
            "transformer_blocks.0.attn1.to_out.0.weight", "transformer_blocks.0.attn1.norm_q.weight", "transformer_blocks.0.norm2.linear.weight",
            "transformer_blocks.0.ff.net.0.proj.weight", "transformer_blocks.0.ff.net.2.weight", "norm_final.weight", "norm_out.linear.weight",
            "proj_out.weight",
        ];
        using (var scope = NewDisposeScope())
            SafetensorsWriter.Save(path, names.ToDictionary(n => n, _ => zeros(2, 2)));
        var e = Assert.Throws<TurboException>(() => AdaptedCheckpoints.Open(path, null));
        Assert.That(e!.Message, Does.Contain("recognised as CogVideoX").And.Contain("not implemented").And.Contain("wan2.1"));
    }

    [Test]
    public void EveryNamingOfWanIsDetectedFromNamesAlone()
    {
        foreach (var (file, naming) in new[] { (Golden.OriginalWeights, "original"), (Golden.DiffusersWeights, "diffusers") })
        {
            using var f = Golden.Open(file);
            var match = FamilyRegistry.Detect(f.Tensors, file);
            Assert.That((match.Family.Family, match.Naming, match.Score), Is.EqualTo(("wan2.1", naming, 1.0)), file);
            Assert.That(match.UnmatchedNames, Is.Empty);
        }
    }

    static TensorInfo Info(string name) => new(name, SafetensorsDType.F32, [1], 0, 4);
}
