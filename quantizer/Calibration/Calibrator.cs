using Turbo.Runtime.Models;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Quantizer.Calibration;

/// <summary>
/// Calibration: each sample runs the whole sampling loop through the unquantized model while observers record the
/// inputs of the chosen Linear layers; each finished sample's statistics go to the store at once.
/// </summary>
public static class Calibrator
{
    /// <param name="stepDone">called once per sampling step (also for the steps of samples already on disk)</param>
    /// <returns>the statistics of all samples, merged per layer (the caller disposes them)</returns>
    public static Dictionary<string, LayerStatistics> Run(WanModel model, IReadOnlyList<string> layers, ICalibrationSource source,
        int samples, CalibrationSettings settings, CalibrationStore store, int maxRows, Action? stepDone = null)
    {
        var linears = layers.Select(name => (Name: name, Linear: WanLinears.Find(model, name))).ToList();
        for (int i = 0; i < samples; i++)
        {
            if (store.IsDone(i))
            {
                for (int s = 0; s < settings.Steps; s++) stepDone?.Invoke();
                continue;
            }
            using var generator = new Generator(settings.Seed * 1_000_003UL + (ulong)i);
            var observers = linears.ToDictionary(l => l.Name, l => new LayerObserver(l.Linear.InFeatures, settings.RowsPerCall, generator));
            try
            {
                foreach (var (name, linear) in linears) linear.InputObserver = observers[name].Observe;
                using (var sample = source.Get(i))
                using (Trajectory.Run(model, sample, settings, stepDone: stepDone)) { }
                var statistics = observers.ToDictionary(o => o.Key, o => o.Value.Statistics());
                try { store.Save(i, statistics); }
                finally { foreach (var s in statistics.Values) s.Dispose(); }
            }
            finally
            {
                foreach (var (_, linear) in linears) linear.InputObserver = null;
                foreach (var o in observers.Values) o.Dispose();
            }
        }
        return store.LoadMerged(samples, linears.Select(l => (l.Name, l.Linear.InFeatures)).ToList(), maxRows);
    }
}
