using Turbo.Converter.Conversion;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Runtime.Packaging;
using Turbo.Tests.Support;

namespace Turbo.Tests.Conversion;

/// <summary>The runner's bookkeeping with stages that only count their runs (no model).</summary>
public class StageRunnerTests : TempFolderFixture
{
    sealed class CountingStage(string name, string setting, Func<ModelState, ModelState>? change = null) : IConversionStage
    {
        public int Runs { get; private set; }
        public string Name => name;
        public IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string> { ["value"] = setting };

        public StageResult Run(StageContext context)
        {
            Runs++;
            File.WriteAllText(Path.Combine(context.Folder, "output.txt"), setting);
            return new StageResult((change ?? (s => s))(context.Input).With(new StageRecord(name, Settings)), [new("value", setting)]);
        }
    }

    sealed class FailingStage(string name) : IConversionStage
    {
        public string Name => name;
        public IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>();
        public StageResult Run(StageContext context) => throw new IOException("stopped");
    }

    static ModelState State(string teacher) => new()
    {
        Teacher = teacher, TeacherFiles = new Dictionary<string, string>(), Started = DateTimeOffset.UnixEpoch,
        Transformer = new TransformerWeights(teacher, Canonical: false), Config = new WanConfig(),
        Sampler = SamplerSettings.WanTeacher, Video = new VideoSettings(81, 480, 832),
    };

    StageRunner Runner() => new(new WorkFolder(Temp.PathTo("work")), (_, work) => work(new TestProgress()));

    [Test]
    public void FinishedStagesAreSkippedAndAStopMidwayRunsOnlyWhatWasLeft()
    {
        var first = new CountingStage("first", "a");
        var second = new CountingStage("second", "b");
        Assert.Throws<IOException>(() => Runner().Run([first, new FailingStage("boom"), second], State("t")));
        Assert.That((first.Runs, second.Runs), Is.EqualTo((1, 0)));
        Assert.That(File.Exists(Temp.PathTo("work", "first", StageMarker.FileName)), Is.True);
        Assert.That(File.Exists(Temp.PathTo("work", "boom", StageMarker.FileName)), Is.False, "no marker for a stage that did not return");

        var reports = Runner().Run([first, second], State("t"));
        Assert.That((first.Runs, second.Runs), Is.EqualTo((1, 1)));
        Assert.That(reports.Select(r => r.Status), Is.EqualTo(new[] { "done before", "ran" }));
        Assert.That(reports[0].Outcome.Summary.Single().Value, Is.EqualTo("a"), "a skipped stage reports what it reported");
    }

    [Test]
    public void ChangedSettingsAreRefusedAndAChangedInputRunsTheStageAgain()
    {
        var second = new CountingStage("second", "b");
        Runner().Run([new CountingStage("first", "a"), second], State("t"));
        var e = Assert.Throws<TurboException>(() => Runner().Run([new CountingStage("first", "z"), second], State("t")));
        Assert.That(e!.Message, Does.Contain("stage first finished with other settings").And.Contain("value: a → z"));

        Runner().Run([new CountingStage("first", "a"), second], State("other teacher"));
        Assert.That(second.Runs, Is.EqualTo(2), "its input changed, so it ran again");
    }

    [Test]
    public void AWorkFolderIsNotReusedWithoutResume()
    {
        string teacher = MicroConversion.Teacher(Temp.Path);
        var (work, initial) = WorkFolder.Prepare(Temp.PathTo("pkg.work"), teacher, resume: false);
        Assert.That(initial.Teacher, Is.EqualTo(Path.GetFullPath(teacher)));
        var e = Assert.Throws<TurboException>(() => WorkFolder.Prepare(work.Root, teacher, resume: false));
        Assert.That(e!.Message, Does.Contain("--resume"));
        var (_, resumed) = WorkFolder.Prepare(work.Root, teacher, resume: true);
        Assert.That(resumed.Started, Is.EqualTo(initial.Started), "a resumed conversion keeps its start");

        File.AppendAllText(Path.Combine(teacher, "tokenizer", "vocab.json"), " ");
        e = Assert.Throws<TurboException>(() => WorkFolder.Prepare(work.Root, teacher, resume: true));
        Assert.That(e!.Message, Does.Contain("vocab.json").And.Contain("changed since this conversion began"));
    }
}
