using System.Globalization;
using Turbo.Converter.Pipelines;
using Turbo.Distiller.Data;
using Turbo.Distiller.Rcm;
using Turbo.Runtime.Attention;

namespace Turbo.Converter.Conversion;

/// <summary>
/// An rCM run inside a stage (distill, refine): the stage's progress follows its steps, then the student's EMA
/// weights are written as a canonical checkpoint.
/// </summary>
static class StageRcm
{
    /// <returns>a line for the stage's summary: the steps reached, the batch and the last losses</returns>
    public static string TrainAndWrite(RcmDistiller distiller, RcmSettings settings, TeacherSamples samples, StageContext context, string label,
        string studentPath, AttentionConfig attention)
    {
        context.Progress.Begin(label, settings.Steps);
        long reported = 0;
        var summary = distiller.Train(samples, p =>
        {
            context.Progress.Advance(p.Step - reported);
            reported = p.Step;
        });
        var ema = distiller.EmaWeights();
        try { TransformerCheckpoint.Write(studentPath, attention, ema); }
        finally { foreach (var t in ema.Values) t.Dispose(); }
        return $"{distiller.Step} steps of {settings.BatchSize}; "
            + string.Join(", ", summary.Measures.Select(m => $"{m.Key} {m.Value.ToString("G4", CultureInfo.InvariantCulture)}"));
    }
}
