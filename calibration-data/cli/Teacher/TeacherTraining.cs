using System.Diagnostics;
using Turbo.CalibrationData.Shapes;
using Turbo.Converter.Checkpoints;
using Turbo.Converter.Pipelines;
using Turbo.Converter.Running;
using Turbo.Distiller.Training;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Runtime.Native;
using Turbo.Runtime.Packaging;
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
    /// <param name="from">a model folder whose trained VAE this run continues, in a schedule of its own (null: from a random init)</param>
    public static TrainingRecord TrainVae(string work, VaeTrainingSettings settings, int trainFrames, int checkClips, Device device, Action<string> log,
        string? from = null)
    {
        if (settings.DecoderOnly && from is null) throw new TurboException("training only the VAE's decoder needs a trained VAE to start from (--from MODEL)");
        var clock = Stopwatch.StartNew();
        var dataset = new ShapesDataset(DataSeed, TeacherRecipe.Clips);
        string model = ModelFolder(work);
        var source = from is null ? null : StartFrom(from, model, "vae");
        using var vae = from is null ? new WanVae(TeacherRecipe.Vae, device) : WanVae.FromCheckpoint(Path.Combine(from, "vae"), device);
        if (from is null) Initializers.Vae(vae, settings.Seed);
        else RequireRecipe(vae.Config.BaseDim == TeacherRecipe.Vae.BaseDim && vae.Config.ZDim == TeacherRecipe.Vae.ZDim
            && vae.Config.DimMult.SequenceEqual(TeacherRecipe.Vae.DimMult), Path.Combine(from, "vae"));
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
        // An unchanged encoder keeps its latent statistics, so a DiT trained on them still fits this VAE.
        var config = settings.DecoderOnly ? vae.Config : WithLatentStatistics(vae, dataset, clips: 2 * checkClips);
        double psnr = HeldOutPsnr(vae, new ShapesDataset(DataSeed + 1, TeacherRecipe.Clips), clips: checkClips);
        log($"VAE: held-out PSNR {psnr:F2} dB; latent std per channel {string.Join(" ", config.LatentsStd!.Select(s => s.ToString("F2")))}");

        PipelineFolder.WriteIndex(model, TeacherRecipe.Sampling);
        TeacherFolder.WriteVae(model, config, vae.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter));
        var tokenizer = TeacherRecipe.Tokenizer();
        PipelineFolder.WriteTokenizer(model, tokenizer);
        using var textEncoder = new Umt5Encoder(TeacherRecipe.TextEncoder(tokenizer.VocabSize));
        Initializers.Umt5(textEncoder, TeacherRecipe.TextEncoderSeed);
        TeacherFolder.WriteTextEncoder(model, textEncoder);
        var run = new TrainingRecord("vae", reached, settings.BatchSize, settings.LearningRate, device.ToString(),
            clock.Elapsed.TotalSeconds, 1, vae.parameters().Sum(p => p.numel()), new Dictionary<string, double> { ["held-out PSNR dB"] = psnr });
        return TrainingRecord.Save(model, source is null ? run : run.ContinuedFrom(source));
    }

    /// <returns>the stage's training record, summed over the runs that resumed it</returns>
    /// <param name="from">a model folder whose trained DiT this run continues, in a schedule of its own (null: from a random init)</param>
    public static TrainingRecord TrainTransformer(string work, FlowMatchingSettings settings, int poolClips, Device device, Action<string> log,
        string? from = null)
    {
        var clock = Stopwatch.StartNew();
        string model = ModelFolder(work);
        var source = from is null ? null : StartFrom(from, model, "transformer");
        var config = TeacherRecipe.Transformer;
        using var sourceWeights = from is null ? null : AdaptedCheckpoints.OpenWan(Path.Combine(from, "transformer"), null);
        if (sourceWeights?.Config is { } c) // refused before the minute the latent pool takes
            RequireRecipe(c.Dim == config.Dim && c.NumLayers == config.NumLayers && c.NumHeads == config.NumHeads && c.FfnDim == config.FfnDim
                && c.TextLen == config.TextLen && c.PatchSize.SequenceEqual(config.PatchSize), Path.Combine(from!, "transformer"));
        var tokenizer = WordTokenizer.Load(Path.Combine(model, "tokenizer", WanTextToVideo.TokenizerFile));
        using var textEncoder = Umt5Encoder.FromCheckpoint(Path.Combine(model, "text_encoder"), ScalarType.Float32, device);
        textEncoder.eval();
        Tensor Encode(IReadOnlyList<string> prompts) => WanTextToVideo.EncodePrompts(tokenizer, textEncoder, prompts, config.TextLen);

        using (var pool = OpenPool(work, model, poolClips, settings.Seed, device, Encode, log))
        using (var empty = Encode([""]))
        using (var dit = sourceWeights is null ? RandomDit(config, settings.Seed, device) : WanModelLoader.Load(sourceWeights, ScalarType.Float32, device))
        {
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
            var run = new TrainingRecord("transformer", reached, settings.BatchSize, settings.LearningRate, device.ToString(),
                clock.Elapsed.TotalSeconds, 1, dit.parameters().Sum(p => p.numel()), new Dictionary<string, double> { ["loss (last 50 steps)"] = loss });
            var record = TrainingRecord.Save(model, source is null ? run : run.ContinuedFrom(source));
            TeacherCard.Write(model, quality: null, gridFile: null); // a changed DiT: measured again by teacher-evaluate
            return record;
        }
    }

    /// <summary>
    /// The DiT's training pool: read from the work folder when a previous run of this work folder encoded the same
    /// clips with the same VAE and text encoder, else encoded (32,768 clips in about a minute on an H200) and saved.
    /// </summary>
    static LatentPool OpenPool(string work, string model, int clips, long seed, Device device,
        Func<IReadOnlyList<string>, Tensor> encode, Action<string> log)
    {
        string path = Path.Combine(work, "latent-pool.safetensors");
        string builtFrom = $"{clips} training clips of data seed {DataSeed} ({TeacherRecipe.Clips.Frames}×{TeacherRecipe.Clips.Height}×{TeacherRecipe.Clips.Width}), "
            + $"VAE {PackageFolder.Sha256(Path.Combine(model, "vae", PipelineFolder.DiffusersWeights))}, "
            + $"text encoder {PackageFolder.Sha256(Path.Combine(model, "text_encoder", PipelineFolder.TransformersWeights))}";
        if (LatentPool.Load(path, builtFrom, seed, device, log) is { } saved)
        {
            log($"latent pool: {saved.Count} clips read from {path}");
            return saved;
        }
        using var vae = WanVae.FromCheckpoint(Path.Combine(model, "vae"), device);
        var pool = LatentPool.Build(new ShapesDataset(DataSeed, TeacherRecipe.Clips), vae, encode, clips, seed,
            (done, total) => { if (done % 1024 == 0 || done == total) log($"latent pool: {done}/{total} clips encoded"); });
        try { pool.Save(path, builtFrom); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { log($"latent pool: not saved ({e.Message}); a resumed run encodes it again"); }
        return pool;
    }

    /// <summary>
    /// A stage continued from <paramref name="from"/>: the work folder's model starts as a copy of it (the first time),
    /// and the stage's training record there says how many steps this run continues.
    /// </summary>
    static TrainingRecord StartFrom(string from, string model, string stage)
    {
        if (!File.Exists(Path.Combine(from, WanTextToVideo.IndexFile)))
            throw new TurboException($"--from {from}: not a model folder (no {WanTextToVideo.IndexFile})");
        var record = TrainingRecord.Load(from, stage)
            ?? throw new TurboException($"--from {from}: no {Path.GetFileName(TrainingRecord.PathFor(from, stage))}; only a model trained by teacher-vae and teacher-dit can be continued");
        if (!File.Exists(Path.Combine(model, WanTextToVideo.IndexFile))) CopyFolder(from, model);
        return record;
    }

    static void CopyFolder(string from, string to)
    {
        string temp = to + ".partial";
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(temp, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        if (Directory.Exists(to)) Directory.Delete(to, recursive: true);
        Directory.Move(temp, to);
    }

    static WanModel RandomDit(WanConfig config, long seed, Device device)
    {
        var dit = new WanModel(config, ScalarType.Float32, device);
        Initializers.Wan(dit, seed);
        return dit;
    }

    static void RequireRecipe(bool matches, string path)
    {
        if (!matches) throw new TurboException($"{path}: not the architecture of {TeacherRecipe.Name}'s recipe (TeacherRecipe.cs); only that can be continued");
    }

    /// <summary>The recipe's VAE config with the per-channel mean and standard deviation of the posterior means of training clips (Wan's latent normalisation).</summary>
    static WanVaeConfig WithLatentStatistics(WanVae vae, ShapesDataset dataset, int clips)
    {
        var (mean, std) = LatentStatistics(vae, dataset, clips);
        return TeacherRecipe.Vae with { LatentsMean = mean, LatentsStd = std };
    }

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
