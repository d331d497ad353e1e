using System.Diagnostics;
using Turbo.Runtime.Native;

namespace Turbo.Distiller.Training;

/// <summary>
/// The loop every trainer shares: step until the last step or the time limit, checkpoint every N steps, at the end
/// and when stopping early, follow the learning-rate schedule, report progress — all inside a <see cref="CollectionPause"/> renewed between steps.
/// </summary>
static class TrainingLoop
{
    /// <returns>the mean loss of the last 50 steps (NaN when none ran)</returns>
    public static double Run(TrainingState state, LearningRateSchedule schedule, int checkpointEvery, TimeSpan? timeLimit, object settings,
        Func<double> step, Action<TrainingProgress>? progress)
    {
        var recent = new Queue<double>();
        var clock = Stopwatch.StartNew();
        long started = state.Step;
        using var pause = CollectionPause.Begin();
        long steps = schedule.Steps;
        while (state.Step < steps)
        {
            state.SetLearningRate(schedule.At(state.Step));
            double loss = step();
            pause.Checkpoint();
            recent.Enqueue(loss);
            if (recent.Count > 50) recent.Dequeue();
            state.Step++;
            bool outOfTime = clock.Elapsed > timeLimit;
            if (state.Step % checkpointEvery == 0 || state.Step == steps || outOfTime) state.Save(settings);
            progress?.Invoke(new TrainingProgress(state.Step, steps, loss, clock.Elapsed.TotalSeconds / (state.Step - started)));
            if (outOfTime) break;
        }
        return recent.Count == 0 ? double.NaN : recent.Average();
    }
}
