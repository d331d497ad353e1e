using Turbo.Distiller.Training;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Distiller;

public class TrainingStateTests
{
    static TrainingState NewState(TorchSharp.Modules.Linear layer, string dir) =>
        new([new TrainedPart("", layer, optim.AdamW(layer.parameters(), 0.1), (shapeOf, read, source) =>
            Turbo.Runtime.Models.ModuleWeights.Load(layer, shapeOf, read, source), EmaDecay: 0.5)], dir);

    static TorchSharp.Modules.Linear Layer(float value)
    {
        var layer = nn.Linear(2, 2);
        using (no_grad()) foreach (var p in layer.parameters()) p.fill_(value);
        return layer;
    }

    [Test]
    public void ACheckpointIsRenamedIntoPlaceWhole()
    {
        using var dir = new TempFolder();
        using (var layer = Layer(1))
        using (var state = NewState(layer, dir.Path))
        {
            state.Step = 7;
            state.Save(new { });
            Assert.That(Directory.GetDirectories(dir.Path).Select(Path.GetFileName), Is.EqualTo(new[] { "checkpoint" }));
            // a later save that dies half-way leaves a partial folder, which is never read
            Directory.CreateDirectory(dir.PathTo("checkpoint.partial"));
            File.WriteAllText(dir.PathTo("checkpoint.partial", "trainer.json"), "{\"step\": 99}");
        }
        using var restored = Layer(0);
        using var resumed = NewState(restored, dir.Path);
        Assert.That(resumed.TryResume(), Is.True);
        Assert.That(resumed.Step, Is.EqualTo(7));
        Assert.That(restored.weight!.eq(1).all().item<bool>());
    }

    [Test]
    public void ARunStoppedBetweenTheTwoRenamesResumesFromThePreviousCheckpoint()
    {
        using var dir = new TempFolder();
        using (var layer = Layer(2))
        using (var state = NewState(layer, dir.Path))
        {
            state.Step = 3;
            state.Save(new { });
        }
        Directory.Move(dir.PathTo("checkpoint"), dir.PathTo("checkpoint.previous")); // the state between the renames
        using var restored = Layer(0);
        using var resumed = NewState(restored, dir.Path);
        Assert.That(resumed.TryResume(), Is.True);
        Assert.That(resumed.Step, Is.EqualTo(3));
        Assert.That(restored.weight!.eq(2).all().item<bool>());
    }

    [Test]
    public void AWorkFolderOfTheEarlierLayoutResumes()
    {
        using var dir = new TempFolder();
        using (var layer = Layer(4))
        using (var state = NewState(layer, dir.Path))
        {
            state.Step = 5;
            state.Save(new { });
        }
        foreach (string file in Directory.GetFiles(dir.PathTo("checkpoint"))) File.Move(file, dir.PathTo(Path.GetFileName(file)));
        Directory.Delete(dir.PathTo("checkpoint"));
        using var restored = Layer(0);
        using var resumed = NewState(restored, dir.Path);
        Assert.That(resumed.TryResume(), Is.True);
        Assert.That(resumed.Step, Is.EqualTo(5));
        Assert.That(restored.weight!.eq(4).all().item<bool>());
        using var fresh = new TempFolder();
        using var spare = Layer(0);
        using var nothing = NewState(spare, fresh.Path);
        Assert.That(nothing.TryResume(), Is.False);
    }
}
