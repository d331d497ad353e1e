using System.Diagnostics;
using Turbo.Quantizer;
using Turbo.Runtime;

namespace Turbo.Converter.Conversion;

/// <summary>What happened to one stage in a run.</summary>
/// <param name="Status">"ran", or "done before" (skipped on resume)</param>
public sealed record StageReport(string Stage, string Status, double Seconds, StageOutcome Outcome);

/// <summary>
/// Runs stages in order in a work folder. A stage whose folder has a "done" marker with the same settings and the same
/// input state is skipped (its output state is read back); one with other settings is refused, so a resumed run
/// never mixes settings; one whose input changed (an earlier stage ran again) runs again. The marker is written
/// only after the stage returned, so a run stopped anywhere inside a stage runs that stage again on resume.
/// </summary>
public sealed class StageRunner(WorkFolder work, Func<string, Func<IStageProgress, StageResult>, StageResult> withProgress)
{
    /// <summary>Called when a stage starts (its name) and when it is skipped (name, "done before").</summary>
    public event Action<string, string>? StageStarting;

    public IReadOnlyList<StageReport> Run(IReadOnlyList<IConversionStage> stages, ModelState initial)
    {
        var names = stages.Select(s => s.Name).ToList();
        if (names.Distinct().Count() != names.Count) throw new ArgumentException("stage names must be unique", nameof(stages));
        var reports = new List<StageReport>();
        var state = initial;
        foreach (var stage in stages)
        {
            string folder = work.StageFolder(stage.Name);
            string settingsHash = StageMarker.HashOf(stage.Settings), inputHash = StageMarker.Sha256(state.ToJson());
            var context = new StageContext(state, folder, NoProgress.Instance);
            var marker = StageMarker.Read(folder);
            if (marker is not null && marker.SettingsHash != settingsHash)
                throw new TurboException(
                    $"{folder}: stage {stage.Name} finished with other settings ({marker.DescribeDifference(stage.Settings)}); run it with the settings it had, or remove {folder} to run it again");
            if (marker is not null && marker.InputHash == inputHash && File.Exists(Path.Combine(folder, ModelState.FileName))
                && stage.OutputIntact(context, marker.Outcome))
            {
                StageStarting?.Invoke(stage.Name, "done before");
                state = ModelState.Load(Path.Combine(folder, ModelState.FileName));
                reports.Add(new StageReport(stage.Name, "done before", 0, marker.Outcome));
                continue;
            }
            if (marker is not null) File.Delete(Path.Combine(folder, StageMarker.FileName));
            StageStarting?.Invoke(stage.Name, "run");
            var clock = Stopwatch.StartNew();
            var result = withProgress(stage.Name, progress => stage.Run(context with { Progress = progress }));
            result.Output.Save(folder);
            new StageMarker(stage.Name, settingsHash, stage.Settings, inputHash, result.Outcome).Write(folder);
            reports.Add(new StageReport(stage.Name, "ran", clock.Elapsed.TotalSeconds, result.Outcome));
            state = result.Output;
        }
        return reports;
    }

    /// <summary>Progress nobody watches (the context a skipped stage is asked about).</summary>
    sealed class NoProgress : IStageProgress
    {
        public static readonly NoProgress Instance = new();
        public void Begin(string stage, double total) { }
        public void Advance(double units) { }
    }
}
