using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Distiller.Data;

/// <summary>How the sample stage cuts its work: samples per shard, prompts sampled at once, the noise seed.</summary>
public sealed record TeacherSampleSettings
{
    public int ShardSize { get; init; } = 64;
    public int BatchSize { get; init; } = 8;
    public long Seed { get; init; }
}

/// <summary>
/// The distillation data stage: the teacher's own samples (final latents of its sampler, with guidance) for a prompt
/// list, beside the prompts' embeddings, as rCM trains on (TurboDiffusion's 250K Wan2.1 samples). Written to a folder
/// shard by shard — samples.json (what was sampled), prompts.txt, empty-prompt.safetensors, shard-NNNNN.safetensors
/// holding <c>latents.I</c> [C, F, H, W] and <c>context.I</c> [L, TextDim] for its samples I — each file renamed into
/// place when complete. A stopped stage run again on the same folder keeps the complete shards and samples the rest;
/// sample I comes from the noise of (seed, I), so the result does not depend on where it stopped.
/// </summary>
public static class TeacherSampleStage
{
    public const string ManifestFile = "samples.json", PromptsFile = "prompts.txt", EmptyPromptFile = "empty-prompt.safetensors";

    public static string ShardFile(int shard) => $"shard-{shard:D5}.safetensors";

    /// <param name="progress">(samples done, samples in all), after each batch and for the shards found complete</param>
    /// <returns>the samples, opened for training (the caller disposes them)</returns>
    public static TeacherSamples Run(ITeacherSampler teacher, IReadOnlyList<string> prompts, TeacherSampleSettings settings,
        string folder, Action<int, int>? progress = null)
    {
        if (prompts.Count == 0) throw new TurboException("teacher samples: the prompt list is empty");
        if (prompts.FirstOrDefault(p => p.Contains('\n') || p.Contains('\r')) is { } broken)
            throw new TurboException($"teacher samples: prompt \"{broken.ReplaceLineEndings(" ")}\" spans several lines");
        if (settings.ShardSize < 1 || settings.BatchSize < 1)
            throw new TurboException("teacher samples: shard size and batch size must be ≥ 1");

        Directory.CreateDirectory(folder);
        var manifest = new SampleManifest(prompts.Count, settings.ShardSize, settings.Seed, teacher.Description, PromptsDigest(prompts));
        string manifestPath = Path.Combine(folder, ManifestFile);
        if (File.Exists(manifestPath))
        {
            var existing = SampleManifest.Read(manifestPath);
            if (existing != manifest)
                throw new TurboException($"{folder}: holds teacher samples of other prompts or settings ({existing.Difference(manifest)}); use another folder");
        }
        else
        {
            WriteText(Path.Combine(folder, PromptsFile), string.Concat(prompts.Select(p => p + "\n")));
            WriteText(manifestPath, manifest.ToJson());
        }

        using var noGrad = no_grad();
        using var pause = CollectionPause.Begin();
        string emptyPath = Path.Combine(folder, EmptyPromptFile);
        if (!File.Exists(emptyPath))
            using (var empty = teacher.EncodePrompts([""]))
            using (var cpu = empty.to(ScalarType.Float32, CPU).contiguous())
                SafetensorsWriter.Save(emptyPath, new Dictionary<string, Tensor> { [TeacherSamples.EmptyContextName] = cpu });

        int done = 0;
        void Done(int samples)
        {
            done += samples;
            progress?.Invoke(done, prompts.Count);
        }
        for (int shard = 0; shard < manifest.Shards; shard++)
        {
            int first = shard * settings.ShardSize, count = Math.Min(settings.ShardSize, prompts.Count - first);
            string path = Path.Combine(folder, ShardFile(shard));
            if (File.Exists(path)) Done(count);
            else WriteShard(teacher, prompts, settings, path, first, count, Done, pause);
        }
        return TeacherSamples.Open(folder);
    }

    /// <param name="done">called with the number of samples of each batch sampled</param>
    static void WriteShard(ITeacherSampler teacher, IReadOnlyList<string> prompts, TeacherSampleSettings settings, string path,
        int first, int count, Action<int> done, CollectionPause pause)
    {
        var tensors = new Dictionary<string, Tensor>();
        try
        {
            for (int start = first; start < first + count; start += settings.BatchSize)
            {
                using var scope = NewDisposeScope();
                var part = prompts.Skip(start).Take(Math.Min(settings.BatchSize, first + count - start)).ToArray();
                var latents = teacher.SampleLatents(part, settings.Seed, start).to(ScalarType.Float32, CPU);
                var contexts = teacher.EncodePrompts(part).to(ScalarType.Float32, CPU);
                if (latents.dim() != 5 || latents.shape[0] != part.Length || contexts.dim() != 3 || contexts.shape[0] != part.Length)
                    throw new TurboException(
                        $"teacher samples: the teacher returned latents [{string.Join(", ", latents.shape)}] and embeddings [{string.Join(", ", contexts.shape)}] for {part.Length} prompts");
                for (int i = 0; i < part.Length; i++)
                {
                    tensors[TeacherSamples.LatentsName(start + i)] = latents[i].contiguous().DetachFromDisposeScope();
                    tensors[TeacherSamples.ContextName(start + i)] = contexts[i].contiguous().DetachFromDisposeScope();
                }
                pause.Checkpoint();
                done(part.Length);
            }
            SafetensorsWriter.Save(path, tensors, new Dictionary<string, string> { ["first"] = first.ToString(), ["count"] = count.ToString() });
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>SHA-256 of the prompt list (one per line), so a folder is only resumed for the same prompts.</summary>
    static string PromptsDigest(IReadOnlyList<string> prompts) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Concat(prompts.Select(p => p + "\n")))));

    static void WriteText(string path, string text)
    {
        string temp = path + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }
}

/// <summary>samples.json: what a teacher-sample folder holds.</summary>
sealed record SampleManifest(int Count, int ShardSize, long Seed, string Sampler, string PromptsSha256)
{
    public int Shards => (Count + ShardSize - 1) / ShardSize;

    static readonly JsonSerializerOptions Options = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    public static SampleManifest Read(string path)
    {
        try
        {
            var manifest = JsonSerializer.Deserialize<SampleManifest>(File.ReadAllText(path), Options);
            if (manifest is null || manifest.Count < 1 || manifest.ShardSize < 1 || manifest.Sampler is null || manifest.PromptsSha256 is null)
                throw new TurboException($"{path}: not a teacher-sample manifest (count, shardSize, seed, sampler, promptsSha256)");
            return manifest;
        }
        catch (JsonException e) { throw new TurboException($"{path}: not valid JSON ({e.Message})"); }
    }

    public string Difference(SampleManifest other) =>
        Count != other.Count ? $"{Count} prompts, not {other.Count}"
        : PromptsSha256 != other.PromptsSha256 ? "other prompts"
        : Sampler != other.Sampler ? $"sampled as \"{Sampler}\", not \"{other.Sampler}\""
        : ShardSize != other.ShardSize ? $"shards of {ShardSize}, not {other.ShardSize}"
        : $"seed {Seed}, not {other.Seed}";
}
