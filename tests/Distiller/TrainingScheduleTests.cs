using TorchSharp;
using Turbo.Distiller.Training;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Distiller;

public class TrainingScheduleTests
{
    [Test]
    public void LearningRateWarmsUpThenDecaysToItsFloor()
    {
        var schedule = new LearningRateSchedule(Peak: 1e-3, Steps: 2000);
        Assert.That(schedule.WarmupSteps, Is.EqualTo(100));
        Assert.That(schedule.At(0), Is.EqualTo(1e-5).Within(1e-12));
        Assert.That(schedule.At(99), Is.EqualTo(1e-3).Within(1e-12));
        Assert.That(schedule.At(1050), Is.EqualTo(1e-3 * (0.1 + 0.9 * 0.5)).Within(1e-9), "half way through the decay");
        Assert.That(schedule.At(2000), Is.EqualTo(1e-4).Within(1e-12));
        for (long step = 100; step < 2000; step++)
            Assert.That(schedule.At(step + 1), Is.LessThanOrEqualTo(schedule.At(step)), $"step {step}");
    }

    [Test]
    public void EmaDecayWarmsUpSoShortRunsForgetTheInit()
    {
        Assert.That(TrainingState.EmaDecayAt(0, 0.999), Is.EqualTo(0.1).Within(1e-12));
        Assert.That(TrainingState.EmaDecayAt(90, 0.999), Is.EqualTo(0.91).Within(1e-12));
        Assert.That(TrainingState.EmaDecayAt(1_000_000, 0.999), Is.EqualTo(0.999));
        double initShare = 1;
        for (long step = 0; step < 1700; step++) initShare *= TrainingState.EmaDecayAt(step, 0.999);
        Assert.That(initShare, Is.LessThan(1e-3), "the init's share of the EMA after 1,700 steps");
    }

    [Test]
    public void TheStateSetsTheRateOfEveryParameterGroup()
    {
        using var layer = nn.Linear(3, 2);
        using var dir = new TempFolder();
        using var state = new TrainingState(layer, optim.AdamW(layer.parameters(), 1e-3), 0.9, dir.Path);
        state.SetLearningRate(0.25);
        Assert.That(state.Optimizer.ParamGroups.Select(g => g.LearningRate), Is.All.EqualTo(0.25));
    }
}
