using Turbo.Quantizer.Calibration;
using Turbo.Quantizer.Reports;
using Turbo.Runtime.Models;
using Turbo.Runtime.Sampling;
using static TorchSharp.torch;

namespace Turbo.Quantizer;

/// <summary>
/// The unquantized model's behaviour on evaluation samples, recorded before quantization (the float weights are
/// released as layers are quantized): the inputs and velocity of every step, and the final latents.
/// </summary>
public sealed class ReferenceRuns : IDisposable
{
    internal sealed record Step(Tensor X, Tensor Timestep, Tensor Velocity);
    internal sealed record Run(CalibrationSample Sample, List<Step> Steps, Tensor Final);

    internal List<Run> Runs { get; } = [];

    public int Count => Runs.Count;

    public void Dispose()
    {
        foreach (var run in Runs)
        {
            run.Sample.Dispose();
            run.Final.Dispose();
            foreach (var s in run.Steps) { s.X.Dispose(); s.Timestep.Dispose(); s.Velocity.Dispose(); }
        }
        Runs.Clear();
    }
}

/// <summary>End-to-end agreement of a quantized model with the unquantized one (see <see cref="EndToEndReport"/>).</summary>
public static class EndToEndEvaluation
{
    /// <summary>Runs the unquantized model over samples <paramref name="indices"/> and keeps what the comparison needs.</summary>
    public static ReferenceRuns Record(WanModel model, ICalibrationSource source, IEnumerable<int> indices, CalibrationSettings settings,
        Action? stepDone = null)
    {
        var runs = new ReferenceRuns();
        try
        {
            foreach (int index in indices)
            {
                var sample = source.Get(index);
                var steps = new List<ReferenceRuns.Step>();
                Tensor final;
                try
                {
                    // Copies outlive the sampler's dispose scopes, so they are detached from them.
                    final = Trajectory.Run(model, sample, settings,
                        (x, t, v) => steps.Add(new(Keep(x), Keep(t), Keep(v))), stepDone);
                }
                catch
                {
                    sample.Dispose();
                    foreach (var s in steps) { s.X.Dispose(); s.Timestep.Dispose(); s.Velocity.Dispose(); }
                    throw;
                }
                runs.Runs.Add(new(sample, steps, final.DetachFromDisposeScope()));
            }
            return runs;
        }
        catch
        {
            runs.Dispose();
            throw;
        }
    }

    /// <param name="stepDone">called twice per step and sample (velocity check, then the model's own trajectory)</param>
    public static EndToEndReport Compare(WanModel quantized, ReferenceRuns reference, CalibrationSettings settings, Action? stepDone = null)
    {
        var perStep = new List<(double Timestep, double Cosine, double Error)>();
        var latentCosines = new List<double>();
        var latentErrors = new List<double>();
        using var noGrad = no_grad();
        foreach (var run in reference.Runs)
        {
            var device = quantized.Device;
            using var context = run.Sample.Context.to(device);
            using var negative = run.Sample.NegativeContext?.to(device) ?? zeros_like(context);
            var velocity = ClassifierFreeGuidance.Guided((x, t, c) => quantized.Forward(x, t, c), context, negative, settings.Guidance);
            foreach (var step in run.Steps)
            {
                using var scope = NewDisposeScope();
                var v = velocity(step.X.to(device), step.Timestep.to(device));
                perStep.Add((step.Timestep[0].item<float>(), ErrorMetrics.Cosine(step.Velocity, v), ErrorMetrics.RelativeError(step.Velocity, v)));
                stepDone?.Invoke();
            }
            using var final = Trajectory.Run(quantized, run.Sample, settings, stepDone: stepDone);
            latentCosines.Add(ErrorMetrics.Cosine(run.Final, final));
            latentErrors.Add(ErrorMetrics.RelativeError(run.Final, final));
        }
        var timesteps = perStep.GroupBy(s => s.Timestep)
            .Select(g => new TimestepAgreement(g.Key, g.Average(s => s.Cosine), g.Average(s => s.Error))).ToList();
        return new EndToEndReport(reference.Count, settings.Steps,
            perStep.Average(s => s.Cosine), perStep.Min(s => s.Cosine), perStep.Average(s => s.Error), perStep.Max(s => s.Error),
            latentCosines.Average(), latentErrors.Average(), timesteps);
    }

    static Tensor Keep(Tensor t) => t.detach().clone().DetachFromDisposeScope();
}
