using Turbo.CalibrationData.Shapes;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.CalibrationData.Oracle;

/// <summary>Runs the oracle over any number of clips in batches: readings, features and prompt adherence.</summary>
public static class OracleReader
{
    const int BatchSize = 32;

    /// <summary>Readings and features [N, 128] of clips [N, 3, T, H, W] in [-1, 1].</summary>
    public static (IReadOnlyList<OracleReading> Readings, Tensor Features) Read(this ShapesOracle oracle, Tensor clips)
    {
        ShapesOracle.Validate(clips, "clips");
        oracle.eval();
        using var noGrad = no_grad();
        var readings = new List<OracleReading>();
        var features = new List<Tensor>();
        using var pause = CollectionPause.Begin();
        try
        {
            for (long start = 0; start < clips.shape[0]; start += BatchSize)
            {
                pause.Checkpoint();
                using var scope = NewDisposeScope();
                var batchFeatures = oracle.forward(clips.narrow(0, start, Math.Min(BatchSize, clips.shape[0] - start)));
                var classes = oracle.Logits(batchFeatures).Select(l => l.argmax(1).data<long>().ToArray()).ToArray();
                for (int i = 0; i < classes[0].Length; i++)
                    readings.Add(new OracleReading(classes.Select(c => (int)c[i]).ToArray()));
                features.Add(batchFeatures.cpu().MoveToOuterDisposeScope());
            }
            return (readings, cat(features, 0));
        }
        finally
        {
            foreach (var f in features) f.Dispose();
        }
    }

    /// <summary>Penultimate-layer features [N, 128] of clips, for <see cref="FrechetDistance"/>.</summary>
    public static Tensor Features(this ShapesOracle oracle, Tensor clips) => oracle.Read(clips).Features;

    /// <summary>Prompt adherence of clips to the factors their captions state (one caption per clip).</summary>
    public static AdherenceReport Score(this ShapesOracle oracle, Tensor clips, IReadOnlyList<StatedFactors> stated)
    {
        ShapesOracle.Validate(clips, "clips");
        if (clips.shape[0] != stated.Count) throw new Turbo.Runtime.TurboException($"clips: {clips.shape[0]} clips for {stated.Count} captions");
        var (readings, features) = oracle.Read(clips);
        features.Dispose();
        return AdherenceReport.Score(readings, stated);
    }
}
