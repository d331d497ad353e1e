using System.Diagnostics;
using Turbo.CalibrationData.Shapes;
using Turbo.Converter.Pipelines;
using Turbo.Distiller.Training;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Runtime.Native;
using Turbo.Runtime.Text;
using static TorchSharp.torch;

namespace Turbo.CalibrationData.Teacher;

/// <summary>
/// The teacher's two training stages, each resumable from its work folder: the VAE (then its latent statistics,
/// the tokenizer and the fixed random text encoder), and the DiT on a pool of VAE latents. Both write their
/// components into <c>WORK/model</c>, the diffusers-layout folder the pipeline loads.
/// </summary>
public static class TeacherTraining
{
    /// <summary>Training clips come from this seed; evaluation uses others.</summary>
    public const ulong DataSeed = 2025;

    public static string ModelFolder(string work) => Path.Combine(work, "model");

    /// <param name="trainFrames">frames of the training clips: the VAE is causal and runs chunk by chunk with a cache, so
    /// short clips teach it what long ones need at a fraction of the cost (4n + 1)</param>
    /// <returns>the stage's training record, summed over the runs that resumed it</returns>
    public static TrainingRecord TrainVae(string work, VaeTrainingSettings settings, int trainFrames, int checkClips, Device device, Action<string> log)
    {
        var clock = Stopwatch.StartNew();
        var dataset = new ShapesDataset(DataSeed, TeacherRecipe.Clips);
        using var vae = new WanVae(TeacherRecipe.Vae, device);
        Initializers.Vae(vae, settings.Seed);
        long reached;
        using (var trainer = new VaeTrainer(vae, settings, Path.Combine(work, "vae-training")))
        {
            if (trainer.Step > 0) log($"VAE: resuming at step {trainer.Step}");
            trainer.Train(new ShapesClipBatches(new ShapesDataset(DataSeed, TeacherRecipe.Clips with { Frames = trainFrames })), Progress("VAE", log));
            reached = trainer.Step;
            var ema = trainer.EmaWeights();
            try { vae.LoadWeights(ema, "VAE EMA weights"); }
            finally { foreach (var t in ema.Values) t.Dispose(); }
        }
        vae.eval();
        var (mean, std) = LatentStatistics(vae, dataset, clips: 2 * checkClips);
        var config = TeacherRecipe.Vae with { LatentsMean = mean, LatentsStd = std };
        double psnr = HeldOutPsnr(vae, new ShapesDataset(DataSeed + 1, TeacherRecipe.Clips), clips: checkClips);
        log($"VAE: held-out PSNR {psnr:F2} dB; latent std per channel {string.Join(" ", std.Select(s => s.ToString("F2")))}");

        string model = ModelFolder(work);
        PipelineFolder.WriteIndex(model, TeacherRecipe.Sampling);
        TeacherFolder.WriteVae(model, config, vae.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter));
        var tokenizer = TeacherRecipe.Tokenizer();
        PipelineFolder.WriteTokenizer(model, tokenizer);
        using var textEncoder = new Umt5Encoder(TeacherRecipe.TextEncoder(tokenizer.VocabSize));
        Initializers.Umt5(textEncoder, TeacherRecipe.TextEncoderSeed);
        TeacherFolder.WriteTextEncoder(model, textEncoder);
        return TrainingRecord.Save(model, new TrainingRecord("vae", reached, settings.BatchSize, settings.LearningRate, device.ToString(),
            clock.Elapsed.TotalSeconds, 1, vae.parameters().Sum(p => p.numel()), new Dictionary<string, double> { ["held-out PSNR dB"] = psnr }));
    }

    /// <returns>the stage's training record, summed over the runs that resumed it</returns>
    public static TrainingRecord TrainTransformer(string work, FlowMatchingSettings settings, int poolClips, Device device, Action<string> log)
    {
        var clock = Stopwatch.StartNew();
        string model = ModelFolder(work);
        var tokenizer = WordTokenizer.Load(Path.Combine(model, "tokenizer", WanTextToVideo.TokenizerFile));
        using var textEncoder = Umt5Encoder.FromCheckpoint(Path.Combine(model, "text_encoder"), ScalarType.Float32, device);
        textEncoder.eval();
        var config = TeacherRecipe.Transformer;
        Tensor Encode(IReadOnlyList<string> prompts) => WanTextToVideo.EncodePrompts(tokenizer, textEncoder, prompts, config.TextLen);

        LatentPool pool;
        using (var vae = WanVae.FromCheckpoint(Path.Combine(model, "vae"), device))
            pool = LatentPool.Build(new ShapesDataset(DataSeed, TeacherRecipe.Clips), vae, Encode, poolClips, settings.Seed,
                (done, total) => { if (done % 1024 == 0 || done == total) log($"latent pool: {done}/{total} clips encoded"); });
        using (pool)
        using (var empty = Encode([""]))
        using (var dit = new WanModel(config, ScalarType.Float32, device))
        {
            Initializers.Wan(dit, settings.Seed);
            double loss;
            long reached;
            using (var trainer = new FlowMatchingTrainer(dit, empty, settings, Path.Combine(work, "dit-training")))
            {
                if (trainer.Step > 0) log($"DiT: resuming at step {trainer.Step}");
                loss = trainer.Train(pool, Progress("DiT", log));
                reached = trainer.Step;
                var ema = trainer.EmaWeights();
                try { TeacherFolder.WriteTransformer(model, config, ema); }
                finally { foreach (var t in ema.Values) t.Dispose(); }
            }
            var record = TrainingRecord.Save(model, new TrainingRecord("transformer", reached, settings.BatchSize, settings.LearningRate, device.ToString(),
                clock.Elapsed.TotalSeconds, 1, dit.parameters().Sum(p => p.numel()), new Dictionary<string, double> { ["loss (last 50 steps)"] = loss }));
            TeacherCard.Write(model, quality: null, gridFile: null); // a changed DiT: measured again by teacher-evaluate
            return record;
        }
    }

    /// <summary>Per-channel mean and standard deviation of the posterior means of training clips (Wan's latent normalisation).</summary>
    static (double[] Mean, double[] Std) LatentStatistics(WanVae vae, ShapesDataset dataset, int clips)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var means = new List<Tensor>();
        for (int start = 0; start < clips; start += 32)
        {
            var (videos, _) = dataset.Batch(ShapesSplit.Train, 1_000_000 + start, Math.Min(32, clips - start));
            means.Add(vae.Encode(videos, wholeClip: true).Mean.transpose(0, 1).reshape(vae.Config.ZDim, -1).cpu());
        }
        var all = cat(means, 1).to(ScalarType.Float64);
        return (all.mean([1]).data<double>().ToArray(), all.std(1).data<double>().ToArray());
    }

    /// <summary>PSNR of reconstructions (decoded posterior means) of held-out-split clips.</summary>
    public static double HeldOutPsnr(WanVae vae, ShapesDataset dataset, int clips)
    {
        using var noGrad = no_grad();
        double squaredError = 0;
        long values = 0;
        for (int start = 0; start < clips; start += 16)
        {
            using var scope = NewDisposeScope();
            var (videos, _) = dataset.Batch(ShapesSplit.HeldOut, start, Math.Min(16, clips - start));
            var decoded = vae.Decode(vae.Encode(videos, wholeClip: true).Mean, wholeClip: true).cpu();
            squaredError += (decoded.to(ScalarType.Float64) - videos.to(ScalarType.Float64)).square().sum().item<double>();
            values += videos.numel();
        }
        return 10 * Math.Log10(4 / (squaredError / values)); // pixels in [−1, 1]: peak-to-peak 2
    }

    /// <summary>A progress line every 15 s and at the end: step, loss (and the step's terms, when it reports several), speed, ETA.</summary>
    internal static Action<TrainingProgress> Progress(string what, Action<string> log)
    {
        var every = Stopwatch.StartNew();
        return p =>
        {
            if (every.Elapsed.TotalSeconds < 15 && p.Step != p.Steps) return;
            every.Restart();
            var eta = TimeSpan.FromSeconds(p.SecondsPerStep * (p.Steps - p.Step));
            string terms = string.Concat(p.Measures.Select(m => $"  {m.Key} {m.Value:F4}"));
            log($"{what}: step {p.Step}/{p.Steps}  loss {p.Loss:F4}{terms}  {p.SecondsPerStep * 1000:F0} ms/step  ETA {eta:hh\\:mm\\:ss}");
        };
    }
}
