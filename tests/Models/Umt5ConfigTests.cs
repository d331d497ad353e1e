using Turbo.Tests.Support;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Tests.IO;

namespace Turbo.Tests.Models;

/// <summary>Reading transformers' UMT5 config.json, and clear errors for configs that cannot work.</summary>
public class Umt5ConfigTests
{
    const string Minimal = """{"vocab_size": 100, "d_model": 16, "d_kv": 4, "d_ff": 32, "num_layers": 1, "num_heads": 4}""";

    [Test]
    public void MissingOptionalKeysTakeTransformersDefaults()
    {
        var config = Umt5Config.FromJson(Minimal, "config.json");
        Assert.That(config.RelativeAttentionNumBuckets, Is.EqualTo(32));
        Assert.That(config.RelativeAttentionMaxDistance, Is.EqualTo(128));
        Assert.That(config.LayerNormEpsilon, Is.EqualTo(1e-6));
        Assert.That(config.InnerDim, Is.EqualTo(16));
    }

    [Test]
    public void XxlPresetIsWan21sTextEncoder()
    {
        var xxl = Umt5Config.Xxl;
        Assert.That((xxl.VocabSize, xxl.DModel, xxl.DKv, xxl.DFf, xxl.NumLayers, xxl.NumHeads),
            Is.EqualTo((256384, 4096, 64, 10240, 24, 64)));
        Assert.DoesNotThrow(() => xxl.Validate());
    }

    [TestCase("""{"d_model": 16, "d_kv": 4, "d_ff": 32, "num_layers": 1, "num_heads": 4}""", "lacks \"vocab_size\"")]
    [TestCase("""{"vocab_size": "100", "d_model": 16, "d_kv": 4, "d_ff": 32, "num_layers": 1, "num_heads": 4}""", "\"vocab_size\" must be an integer")]
    [TestCase("""{"vocab_size": 0, "d_model": 16, "d_kv": 4, "d_ff": 32, "num_layers": 1, "num_heads": 4}""", "vocab_size must be positive")]
    [TestCase("""{"model_type": "t5", "vocab_size": 100, "d_model": 16, "d_kv": 4, "d_ff": 32, "num_layers": 1, "num_heads": 4}""", "not a UMT5 config")]
    [TestCase("""{"feed_forward_proj": "relu", "vocab_size": 100, "d_model": 16, "d_kv": 4, "d_ff": 32, "num_layers": 1, "num_heads": 4}""", "\"relu\" is not supported")]
    [TestCase("""{"relative_attention_num_buckets": 8, "relative_attention_max_distance": 2, "vocab_size": 100, "d_model": 16, "d_kv": 4, "d_ff": 32, "num_layers": 1, "num_heads": 4}""", "relative_attention_max_distance must exceed 2")]
    [TestCase("""[1, 2]""", "must be a JSON object")]
    [TestCase("""{"vocab_size": 100,""", "not valid JSON")]
    public void BadConfigIsOneLineErrorNamingTheSource(string json, string expected)
    {
        var error = Assert.Throws<TurboException>(() => Umt5Config.FromJson(json, "repo/config.json"));
        Assert.That(error!.Message, Does.StartWith("repo/config.json: ").And.Contain(expected));
        Assert.That(error.Message, Does.Not.Contain('\n'));
    }

    [Test]
    public void FileAndMetadataSourcesAreNamedInErrors()
    {
        using var folder = new TempFolder();
        string path = folder.PathTo("config.json");
        File.WriteAllText(path, Minimal);
        Assert.That(Umt5Config.FromFile(path), Is.EqualTo(Umt5Config.FromJson(Minimal, "x")));
        Assert.That(Assert.Throws<TurboException>(() => Umt5Config.FromFile(folder.PathTo("absent.json")))!.Message,
            Does.StartWith(folder.PathTo("absent.json")));
        var noConfig = new Dictionary<string, string> { ["format"] = "pt" };
        Assert.That(Assert.Throws<TurboException>(() => Umt5Config.FromMetadata(noConfig, "w.safetensors"))!.Message,
            Does.StartWith("w.safetensors: no UMT5 config"));
    }
}
