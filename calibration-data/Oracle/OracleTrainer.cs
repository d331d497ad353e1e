using Turbo.Runtime.Native;
using Turbo.CalibrationData.Shapes;
using static TorchSharp.torch;

namespace Turbo.CalibrationData.Oracle;

/// <summary>How the oracle is trained: fresh clips every step (never the same clip twice), Adam with a cosine schedule.</summary>
public sealed record OracleTrainingOptions(int Steps = 1600, int BatchSize = 32, double LearningRate = 3e-3, ulong Seed = 7, double MaxNoise = 0.1)
{
    /// <summary>
    /// Clips it learns from: 9 frames at 64×64. Frame k of a 9-frame clip is exactly frame 2k of the 17-frame clip
    /// with the same layout (motion runs on the clip's normalised time), and those are the 9 frames the oracle
    /// looks at in a default clip — so this renders only what it sees.
    /// </summary>
    public ShapesOptions Clips { get; init; } = new(Frames: ShapesOracle.InputFrames);
}

/// <summary>
/// Trains a <see cref="ShapesOracle"/> on clips of every valid combination — held-out ones included: the
/// oracle is the measuring instrument for evaluation prompts, and the held-out rule binds generators, not it.
/// Each clip gets Gaussian noise of a random strength up to <see cref="OracleTrainingOptions.MaxNoise"/>, so
/// the slightly noisy clips a generator makes still read correctly.
/// </summary>
public static class OracleTrainer
{
    const ulong TrainingStream = 0x0AC1E;

    /// <summary>
    /// Trains from scratch and saves the weights to <paramref name="path"/>; <paramref name="progress"/> gets
    /// (step, loss) after every step.
    /// </summary>
    /// <remarks>Runs inside a <see cref="CollectionPause"/>; a non-finite loss stops it with an error instead of saving garbage.</remarks>
    public static void TrainAndSave(OracleTrainingOptions options, string path, IReadOnlyDictionary<string, string> metadata,
        Action<int, double>? progress = null)
    {
        var clips = options.Clips.Validated();
        random.manual_seed((long)options.Seed);
        using var oracle = new ShapesOracle();
        oracle.train();
        using var optimizer = optim.Adam(oracle.parameters(), lr: options.LearningRate);
        using var pause = CollectionPause.Begin();
        for (int step = 0; step < options.Steps; step++)
        {
            pause.Checkpoint();
            using var scope = NewDisposeScope();
            foreach (var group in optimizer.ParamGroups) group.LearningRate = LearningRate(options, step);
            var (videos, targets) = Batch(options, clips, step);
            var logits = oracle.Logits(oracle.forward(videos));
            var loss = FactorRules.All.Select(f => nn.functional.cross_entropy(logits[(int)f], targets[(int)f], ignore_index: -1)).Aggregate((a, b) => a + b);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            double value = loss.item<float>();
            if (!double.IsFinite(value))
                throw new InvalidOperationException($"oracle training: loss is {value} at step {step}");
            progress?.Invoke(step, value);
        }
        oracle.eval();
        oracle.Save(path, metadata);
    }

    /// <summary>Linear warm-up over the first 5% of steps, then cosine decay to zero.</summary>
    static double LearningRate(OracleTrainingOptions options, int step)
    {
        int warmup = Math.Max(1, options.Steps / 20);
        if (step < warmup) return options.LearningRate * (step + 1) / warmup;
        double progress = (step - warmup) / (double)Math.Max(1, options.Steps - warmup);
        return options.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }

    /// <summary>Batch number <paramref name="step"/>: noisy clips and, per factor, the class targets (-1 = no speed to learn).</summary>
    static (Tensor Videos, Tensor[] Targets) Batch(OracleTrainingOptions options, ShapesOptions clips, int step)
    {
        var videos = new Tensor[options.BatchSize];
        var targets = FactorRules.All.Select(_ => new long[options.BatchSize]).ToArray();
        for (int b = 0; b < options.BatchSize; b++)
        {
            var random = SampleRandom.For(options.Seed, TrainingStream, (long)step * options.BatchSize + b);
            var factors = FactorSampler.DrawAnyCombination(random);
            using var clean = ShapesDataset.Render(factors, random, clips);
            videos[b] = clean + randn_like(clean) * random.Uniform(0, options.MaxNoise);
            foreach (var f in FactorRules.All) targets[(int)f][b] = factors.ClassOf(f) ?? -1;
        }
        return (stack(videos), targets.Select(t => tensor(t)).ToArray());
    }

    /// <summary>The oracle's reading of fresh clips of <paramref name="split"/> (seed <paramref name="seed"/>) against their full factors.</summary>
    public static AdherenceReport Evaluate(ShapesOracle oracle, ShapesSplit split, int count, ulong seed, ShapesOptions? clips = null)
    {
        var dataset = new ShapesDataset(seed, clips);
        var readings = new List<OracleReading>();
        var truths = new List<StatedFactors>();
        const int chunk = 64;
        for (int start = 0; start < count; start += chunk)
        {
            var samples = Enumerable.Range(start, Math.Min(chunk, count - start)).Select(i => dataset.Sample(split, i)).ToList();
            using var videos = stack(samples.Select(s => s.Video));
            var (batchReadings, features) = oracle.Read(videos);
            features.Dispose();
            readings.AddRange(batchReadings);
            truths.AddRange(samples.Select(s => s.Factors.State()));
            foreach (var s in samples) s.Dispose();
        }
        return AdherenceReport.Score(readings, truths);
    }
}
