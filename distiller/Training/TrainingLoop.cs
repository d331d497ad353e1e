using System.Diagnostics;
using Turbo.Runtime.Native;

namespace Turbo.Distiller.Training;

/// <summary>What one training step reports: the loss it optimised and, for objectives with several terms, each term.</summary>
public sealed record StepResult(double Loss, IReadOnlyDictionary<string, double>? Measures = null);

/// <summary>Means over the last 50 steps: of the loss, and of each measure over the steps that reported it.</summary>
public sealed record TrainingSummary(double Loss, IReadOnlyDictionary<string, double> Measures);

/// <summary>
/// The loop every trainer shares: step until the last step or the time limit, checkpoint every N steps, at the end
/// and when stopping early, follow the learning-rate schedule, report progress — all inside a <see cref="CollectionPause"/> renewed between steps.
/// </summary>
static class TrainingLoop
{
    const int Window = 50;

    /// <returns>the means of the last 50 steps (NaN when none ran)</returns>
    public static TrainingSummary Run(TrainingState state, LearningRateSchedule schedule, int checkpointEvery, TimeSpan? timeLimit, object settings,
        Func<StepResult> step, Action<TrainingProgress>? progress)
    {
        var recent = new Queue<double>();
        var recentMeasures = new Dictionary<string, Queue<double>>();
        var clock = Stopwatch.StartNew();
        long started = state.Step;
        using var pause = CollectionPause.Begin();
        long steps = schedule.Steps;
        while (state.Step < steps)
        {
            state.ScaleLearningRates(schedule.FactorAt(state.Step));
            var result = step();
            pause.Checkpoint();
            Remember(recent, result.Loss);
            foreach (var (name, value) in result.Measures ?? new Dictionary<string, double>())
                Remember(recentMeasures.TryGetValue(name, out var queue) ? queue : recentMeasures[name] = new Queue<double>(), value);
            state.Step++;
            bool outOfTime = clock.Elapsed > timeLimit;
            if (state.Step % checkpointEvery == 0 || state.Step == steps || outOfTime) state.Save(settings);
            progress?.Invoke(new TrainingProgress(state.Step, steps, result.Loss, clock.Elapsed.TotalSeconds / (state.Step - started))
            {
                Measures = result.Measures ?? new Dictionary<string, double>(),
            });
            if (outOfTime) break;
        }
        return new TrainingSummary(recent.Count == 0 ? double.NaN : recent.Average(),
            recentMeasures.ToDictionary(kv => kv.Key, kv => kv.Value.Average()));
    }

    static void Remember(Queue<double> queue, double value)
    {
        queue.Enqueue(value);
        if (queue.Count > Window) queue.Dequeue();
    }
}
