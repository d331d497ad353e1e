using System.Text.Json;
using Turbo.Converter.Cli;
using Turbo.Tests.Support;

namespace Turbo.Tests.Cli;

public class InspectAndSynthCliTests : TempFolderFixture
{
    static JsonElement InspectJson(string path)
    {
        var r = CliRunner.Run("inspect", path, "--json");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Err);
        return JsonDocument.Parse(r.Out).RootElement;
    }

    [Test]
    public void SynthTinyThenInspectCountsItsTensors()
    {
        string dir = Temp.PathTo("tiny");
        var synth = CliRunner.Run("synth", "--family", "wan2.1", "--preset", "tiny", "-o", dir);
        Assert.That(synth.ExitCode, Is.EqualTo(0), synth.Err);
        var json = InspectJson(dir);
        Assert.That(json.GetProperty("family").GetString(), Is.EqualTo("wan2.1"));
        Assert.That(json.GetProperty("naming").GetString(), Is.EqualTo("original"));
        Assert.That(json.GetProperty("tensor_count").GetInt32(), Is.EqualTo(69));
        Assert.That(json.GetProperty("parameter_count").GetInt64(), Is.EqualTo(162_560));
        Assert.That(json.GetProperty("bytes").GetInt64(), Is.EqualTo(162_560 * 4));
        Assert.That(json.GetProperty("dtypes").GetProperty("F32").GetInt32(), Is.EqualTo(69));
        Assert.That(json.GetProperty("config").GetProperty("num_heads").GetInt32(), Is.EqualTo(2));
        Assert.That(json.GetProperty("config").GetProperty("text_dim").GetInt32(), Is.EqualTo(48));
        var memory = json.GetProperty("memory_estimate");
        Assert.That(memory.GetProperty("bf16_bytes").GetInt64(), Is.EqualTo(162_560 * 2));
        // 20 block linears of 98,304 params as int8 + one fp32 scale per output row + the rest bf16
        long linear = 98_304, rows = 2 * (8 * 64 + 128 + 64);
        Assert.That(memory.GetProperty("int8_w8a8_bytes").GetInt64(), Is.EqualTo(linear + rows * 4 + (162_560 - linear) * 2));
        Assert.That(json.GetProperty("plan").GetArrayLength(), Is.EqualTo(5));
    }

    [Test]
    public void SynthDiffusersShardsWriteDiffusersFileNamesAndConfig()
    {
        string dir = Temp.PathTo("sharded");
        var synth = CliRunner.Run("synth", "--preset", "tiny", "--layers", "3", "--naming", "diffusers", "--dtype", "bf16", "--shards", "3", "-o", dir);
        Assert.That(synth.ExitCode, Is.EqualTo(0), synth.Err);
        Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName), Is.EquivalentTo(new[]
        {
            "diffusion_pytorch_model-00001-of-00003.safetensors", "diffusion_pytorch_model-00002-of-00003.safetensors",
            "diffusion_pytorch_model-00003-of-00003.safetensors", "diffusion_pytorch_model.safetensors.index.json", "config.json",
        }));
        Assert.That(File.ReadAllText(Path.Combine(dir, "config.json")), Does.Contain("\"attention_head_dim\": 32"));
        var json = InspectJson(dir);
        Assert.That(json.GetProperty("naming").GetString(), Is.EqualTo("diffusers"));
        Assert.That(json.GetProperty("tensor_count").GetInt32(), Is.EqualTo(12 + 3 * 27 + 3));
        Assert.That(json.GetProperty("files").GetArrayLength(), Is.EqualTo(3));
        Assert.That(json.GetProperty("dtypes").GetProperty("BF16").GetInt32(), Is.EqualTo(96));
        Assert.That(json.GetProperty("config_origin").GetString(), Does.Contain("diffusers format"));
    }

    [Test]
    public void SynthIsDeterministicInItsSeed()
    {
        string a = Temp.PathTo("a"), b = Temp.PathTo("b"), c = Temp.PathTo("c");
        Assert.That(CliRunner.Run("synth", "--preset", "tiny", "--seed", "5", "-o", a).ExitCode, Is.EqualTo(0));
        Assert.That(CliRunner.Run("synth", "--preset", "tiny", "--seed", "5", "-o", b).ExitCode, Is.EqualTo(0));
        Assert.That(CliRunner.Run("synth", "--preset", "tiny", "--seed", "6", "-o", c).ExitCode, Is.EqualTo(0));
        const string file = "diffusion_pytorch_model.safetensors";
        Assert.That(File.ReadAllBytes(Path.Combine(a, file)), Is.EqualTo(File.ReadAllBytes(Path.Combine(b, file))));
        Assert.That(File.ReadAllBytes(Path.Combine(a, file)), Is.Not.EqualTo(File.ReadAllBytes(Path.Combine(c, file))));
    }

    [Test]
    public void InspectTableNamesFamilyNamingAndCounts()
    {
        string weights = GoldenCopies.WithConfigBeside(Temp.Path, Golden.DiffusersWeights, Golden.DiffusersConfig);
        var r = CliRunner.Run("inspect", weights);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Err);
        Assert.That(r.Out, Does.Contain("wan2.1").And.Contain("diffusers").And.Contain("162,560").And.Contain("quantize (W8A8)"));
    }

    [Test]
    public void SynthRefusesANonEmptyFolder()
    {
        File.WriteAllText(Temp.PathTo("keep.txt"), "x");
        var r = CliRunner.Run("synth", "--preset", "tiny", "-o", Temp.Path);
        Assert.That(r.ExitCode, Is.EqualTo(CliInvocation.UserErrorExitCode));
        Assert.That(r.Err, Does.StartWith("error: ").And.Contain("not empty"));
    }
}
