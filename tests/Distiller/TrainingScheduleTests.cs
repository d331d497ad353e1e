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
        var schedule = new LearningRateSchedule(Steps: 2000);
        Assert.That(schedule.WarmupSteps, Is.EqualTo(100));
        Assert.That(schedule.FactorAt(0), Is.EqualTo(0.01).Within(1e-12));
        Assert.That(schedule.FactorAt(99), Is.EqualTo(1.0).Within(1e-12));
        Assert.That(schedule.FactorAt(1050), Is.EqualTo(0.1 + 0.9 * 0.5).Within(1e-9), "half way through the decay");
        Assert.That(schedule.FactorAt(2000), Is.EqualTo(0.1).Within(1e-12));
        for (long step = 100; step < 2000; step++)
            Assert.That(schedule.FactorAt(step + 1), Is.LessThanOrEqualTo(schedule.FactorAt(step)), $"step {step}");
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
    public void TheStateScalesEveryOptimizersOwnRate()
    {
        using var student = nn.Linear(3, 2);
        using var critic = nn.Linear(3, 2);
        using var dir = new TempFolder();
        WeightLoader ignore = (_, _, _) => { };
        using var state = new TrainingState(
            [new TrainedPart("", student, optim.AdamW(student.parameters(), 1e-3), ignore, 0.9),
             new TrainedPart("critic", critic, optim.AdamW(critic.parameters(), 4e-3), ignore, null)], dir.Path);
        state.ScaleLearningRates(0.25);
        state.ScaleLearningRates(0.5);
        Assert.That(state.OptimizerOf("").ParamGroups.Select(g => g.LearningRate), Is.All.EqualTo(5e-4).Within(1e-15));
        Assert.That(state.OptimizerOf("critic").ParamGroups.Select(g => g.LearningRate), Is.All.EqualTo(2e-3).Within(1e-15));
    }
}
