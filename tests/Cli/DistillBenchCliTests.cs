using System.Text.Json;
using Turbo.Converter.Cli;
using Turbo.Converter.Commands;
using Turbo.Tests.Support;

namespace Turbo.Tests.Cli;

/// <summary>distill-bench on a synthesized tiny Wan2.1 on the CPU: what it runs and reports, not how fast.</summary>
public class DistillBenchCliTests : TempFolderFixture
{
    string Tiny()
    {
        string dir = Temp.PathTo("tiny");
        var synth = CliRunner.Run("synth", "--preset", "tiny", "-o", dir);
        Assert.That(synth.ExitCode, Is.EqualTo(0), synth.Err);
        return dir;
    }

    static string[] BenchFolders() => Directory.GetDirectories(Path.GetTempPath(), "turbo-distill-bench-*");

    [TestCase("exact")]
    [TestCase("fd")]
    public void TimesStudentAndCriticStepsAndWritesJson(string tangent)
    {
        string json = Temp.PathTo("bench.json");
        var before = BenchFolders();
        var r = CliRunner.Run("distill-bench", Tiny(), "--frames", "1", "--warmup", "1", "--iterations", "1", "--tangent", tangent,
            "--device", "cpu", "--json", json);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Err);
        Assert.That(r.Out, Does.Contain("rCM training steps").And.Contain("tokens per clip"));
        Assert.That(BenchFolders(), Is.EquivalentTo(before), "the training state's folder is deleted");

        var root = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        Assert.That(root.GetProperty("tangent").GetString(), Is.EqualTo(tangent));
        Assert.That(root.GetProperty("fits").GetBoolean());
        Assert.That(root.GetProperty("outOfMemory").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(root.GetProperty("latent").EnumerateArray().Select(d => d.GetInt64()), Is.EqualTo(new long[] { 1, 16, 1, 60, 104 }));
        Assert.That(root.GetProperty("tokensPerClip").GetInt64(), Is.EqualTo(30 * 52));
        Assert.That(root.GetProperty("parametersPerNetwork").GetInt64(), Is.EqualTo(162_560));
        Assert.That(root.GetProperty("dtype").GetString(), Is.EqualTo("Float32"));
        var rcm = root.GetProperty("rcm");
        Assert.That(rcm.GetProperty("tangentWarmup").GetInt32(), Is.EqualTo(0));
        Assert.That(rcm.GetProperty("dmdWeight").GetDouble(), Is.GreaterThan(0));
        Assert.That(rcm.GetProperty("studentUpdateEvery").GetInt32(), Is.EqualTo(5));
        Assert.That(rcm.GetProperty("finiteDifferenceStep").ValueKind, Is.EqualTo(tangent == "fd" ? JsonValueKind.Number : JsonValueKind.Null));

        // step 0 student, 1–4 critic, 5 student: the first of each kind is the warm-up
        var steps = root.GetProperty("steps").EnumerateArray().ToList();
        Assert.That(steps.Select(s => s.GetProperty("kind").GetString()),
            Is.EqualTo(new[] { "student", "critic", "critic", "critic", "critic", "student" }));
        Assert.That(steps.Select(s => s.GetProperty("measured").GetBoolean()), Is.EqualTo(new[] { false, false, true, true, true, true }));
        Assert.That(root.GetProperty("student").GetProperty("measured").GetInt32(), Is.EqualTo(1));
        Assert.That(root.GetProperty("critic").GetProperty("measured").GetInt32(), Is.EqualTo(3));
        foreach (string kind in new[] { "student", "critic" })
            Assert.That(root.GetProperty(kind).GetProperty("medianMs").GetDouble(), Is.GreaterThan(0));
        var memory = root.GetProperty("memory");
        Assert.That(memory.GetProperty("peakBytes").GetUInt64(), Is.GreaterThan(0));
        Assert.That(memory.GetProperty("source").GetString(), Is.Not.Empty);
    }

    /// <summary>A batch of 1.9 PB of latents: the allocation fails at once on any machine, as a step too big for a GPU does.</summary>
    [Test]
    public void RunningOutOfMemoryIsAOneLineResult()
    {
        string json = Temp.PathTo("oom.json");
        var r = CliRunner.Run("distill-bench", Tiny(), "--resolution", "720p", "--frames", "81", "--batch", "100000000", "--warmup", "0",
            "--iterations", "1", "--device", "cpu", "--json", json);
        Assert.That(r.ExitCode, Is.EqualTo(DistillBenchCommand.OutOfMemoryExitCode), r.Err);
        Assert.That(r.Out.TrimEnd().Split('\n'), Has.Length.EqualTo(1), r.Out);
        Assert.That(r.Out, Does.StartWith("exact tangent at 720p×81 frames, batch 100000000, needs more than")
            .And.Contain("ran out at step 0 (student)").And.Contain("try --tangent fd"));
        var root = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        Assert.That(root.GetProperty("fits").GetBoolean(), Is.False);
        Assert.That(root.GetProperty("outOfMemory").GetProperty("message").GetString(), Does.Contain("can't allocate memory"));
    }

    [TestCase("--frames", "8", "--frames 8: expected 4n+1")]
    [TestCase("--batch", "0", "--batch 0: expected at least 1")]
    [TestCase("--iterations", "0", "--iterations 0: expected at least 1")]
    [TestCase("--warmup", "-1", "--warmup -1: expected 0 or more")]
    public void BadNumbersAreRefusedBeforeLoading(string option, string value, string message)
    {
        var r = CliRunner.Run("distill-bench", Temp.PathTo("no-checkpoint"), option, value);
        Assert.That(r.ExitCode, Is.EqualTo(CliInvocation.UserErrorExitCode), r.Err);
        Assert.That(r.Err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), "one-line message");
        Assert.That(r.Err, Does.StartWith("error: " + message));
    }

    [Test]
    public void JsonIntoAMissingFolderIsRefusedBeforeLoading()
    {
        var r = CliRunner.Run("distill-bench", Temp.PathTo("no-checkpoint"), "--json", Temp.PathTo("no", "such", "bench.json"));
        Assert.That(r.ExitCode, Is.EqualTo(CliInvocation.UserErrorExitCode), r.Err);
        Assert.That(r.Err, Does.StartWith("error: --json ").And.Contain("its folder does not exist"));
    }

    [TestCase("--resolution", "1080p")]
    [TestCase("--tangent", "jvp")]
    public void UnknownChoicesAreParseErrors(string option, string value)
    {
        var r = CliRunner.Run("distill-bench", Temp.PathTo("no-checkpoint"), option, value);
        Assert.That(r.ExitCode, Is.Not.EqualTo(0));
        Assert.That(r.Err, Does.Contain(value));
    }
}
