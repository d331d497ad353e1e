using Turbo.Converter.Pipelines;
using Turbo.Distiller.Data;
using Turbo.Runtime;
using Turbo.Runtime.Sampling;
using Turbo.Tests.Support;
using Turbo.Tests.Teacher;
using static TorchSharp.torch;

namespace Turbo.Tests.Distiller;

public class TeacherSampleStageTests
{
    /// <summary>A stand-in teacher whose "sample" for prompt i is a function of (seed, i) and whose embedding is of the prompt's length.</summary>
    sealed class CountingTeacher(int failAfterCalls = int.MaxValue) : ITeacherSampler
    {
        public int Calls { get; private set; }
        public List<long> Sampled { get; } = [];

        public Tensor EncodePrompts(IReadOnlyList<string> prompts) =>
            stack(prompts.Select(p => full([3, 2], (float)p.Length)).ToArray());

        public Tensor SampleLatents(IReadOnlyList<string> prompts, long seed, long firstIndex)
        {
            if (++Calls > failAfterCalls) throw new InvalidOperationException("stopped");
            Sampled.AddRange(Enumerable.Range(0, prompts.Count).Select(i => firstIndex + i));
            return stack(prompts.Select((_, i) => Expected(seed, firstIndex + i)).ToArray());
        }

        public string Description => "counting";

        public static Tensor Expected(long seed, long index) => randn([2, 1, 2, 2], generator: new Generator((ulong)(seed * 1000 + index)));
    }

    static readonly string[] Prompts = ["a", "bb", "ccc", "dddd", "eeeee"];
    static readonly TeacherSampleSettings Cut = new() { ShardSize = 2, BatchSize = 2, Seed = 3 };

    [Test]
    public void SamplesAreWrittenShardByShardAndReadBack()
    {
        using var dir = new TempFolder();
        var teacher = new CountingTeacher();
        var reports = new List<(int, int)>();
        using var samples = TeacherSampleStage.Run(teacher, Prompts, Cut, dir.Path, (done, all) => reports.Add((done, all)));
        Assert.That(Directory.GetFiles(dir.Path, "shard-*.safetensors").Select(Path.GetFileName), Is.EquivalentTo(new[]
            { "shard-00000.safetensors", "shard-00001.safetensors", "shard-00002.safetensors" }));
        Assert.That(samples.Count, Is.EqualTo(5));
        Assert.That(samples.Prompts, Is.EqualTo(Prompts));
        Assert.That(samples.EmptyContext.shape, Is.EqualTo(new long[] { 1, 3, 2 }));
        Assert.That(samples.EmptyContext.abs().sum().item<float>(), Is.Zero, "the empty prompt's embedding");
        for (int i = 0; i < 5; i++)
        {
            var (latents, context) = samples.Sample(i);
            Assert.That(latents.eq(CountingTeacher.Expected(3, i)).all().item<bool>(), $"sample {i}");
            Assert.That(context.eq(Prompts[i].Length).all().item<bool>(), $"embedding {i}");
        }
        Assert.That(reports[^1], Is.EqualTo((5, 5)));

        var (batchLatents, batchContexts) = samples.Batch(7, 3);
        var (again, _) = samples.Batch(7, 3);
        Assert.That(batchLatents.shape, Is.EqualTo(new long[] { 3, 2, 1, 2, 2 }));
        Assert.That(batchContexts.shape, Is.EqualTo(new long[] { 3, 3, 2 }));
        Assert.That(batchLatents.eq(again).all().item<bool>(), "a batch is a function of its step");
    }

    [Test]
    public void AStoppedStageResumesWithTheShardsItFinished()
    {
        using var dir = new TempFolder();
        Assert.Throws<InvalidOperationException>(() => TeacherSampleStage.Run(new CountingTeacher(failAfterCalls: 2), Prompts, Cut, dir.Path));
        Assert.That(Directory.GetFiles(dir.Path, "shard-*"), Has.Length.EqualTo(2), "two shards done, nothing of the third");
        Assert.Throws<TurboException>(() => TeacherSamples.Open(dir.Path), "an incomplete folder is not training data");

        var resumed = new CountingTeacher();
        using var samples = TeacherSampleStage.Run(resumed, Prompts, Cut, dir.Path);
        Assert.That(resumed.Sampled, Is.EqualTo(new long[] { 4 }), "only the missing shard is sampled");
        using var fresh = new TempFolder();
        using var straight = TeacherSampleStage.Run(new CountingTeacher(), Prompts, Cut, fresh.Path);
        for (int i = 0; i < 5; i++)
            Assert.That(samples.Sample(i).Latents.eq(straight.Sample(i).Latents).all().item<bool>(), $"sample {i}");
    }

    [Test]
    public void AFolderOfOtherPromptsOrSettingsIsRefused()
    {
        using var dir = new TempFolder();
        TeacherSampleStage.Run(new CountingTeacher(), Prompts, Cut, dir.Path).Dispose();
        var error = Assert.Throws<TurboException>(() => TeacherSampleStage.Run(new CountingTeacher(), ["a", "bb", "ccc", "dddd", "x"], Cut, dir.Path));
        Assert.That(error!.Message, Does.Contain("other prompts"));
        error = Assert.Throws<TurboException>(() => TeacherSampleStage.Run(new CountingTeacher(), Prompts, Cut with { Seed = 4 }, dir.Path));
        Assert.That(error!.Message, Does.Contain("seed 3, not 4"));
        Assert.Throws<TurboException>(() => TeacherSampleStage.Run(new CountingTeacher(), ["two\nlines"], Cut, dir.Path));
        Assert.Throws<TurboException>(() => TeacherSampleStage.Run(new CountingTeacher(), [], Cut, dir.Path));
    }

    /// <summary>With a real pipeline: each stored sample is the pipeline's own latents for its prompt and index.</summary>
    [Test]
    public void APipelineTeachersSamplesAreItsOwnLatents()
    {
        using var folder = new TempFolder();
        foreach (var w in MicroTeacher.Write(folder.PathTo("model")).Values) w.Dispose();
        using var pipeline = WanTextToVideo.Load(folder.PathTo("model"), CPU, ScalarType.Float32);
        string[] prompts = ["a small red circle moves left", "a big green square", "a small red circle"];
        using var samples = TeacherSampleStage.Run(new PipelineTeacherSampler(pipeline, MicroTeacher.Sampling), prompts,
            new TeacherSampleSettings { ShardSize = 2, BatchSize = 2, Seed = 5 }, folder.PathTo("samples"));
        using var expected = pipeline.GenerateLatents([prompts[2]], 5, MicroTeacher.Sampling, firstIndex: 2);
        using var context = pipeline.EncodePrompts([prompts[2]]);
        var (latents, stored) = samples.Sample(2);
        Assert.That(RelativeError.Of(latents, expected[0]), Is.LessThan(1e-5));
        Assert.That(stored.eq(context[0]).all().item<bool>());
        Assert.That(samples.EmptyContext.shape, Is.EqualTo(new long[] { 1, MicroTeacher.Transformer.TextLen, MicroTeacher.Transformer.TextDim }));
    }
}
