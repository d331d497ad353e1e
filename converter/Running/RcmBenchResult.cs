using System.Text.Json;

namespace Turbo.Converter.Running;

/// <summary>One rCM step as it ran: its kind ("student" or "critic"), wall time, and memory read right after it.</summary>
/// <param name="Measured">false for the warm-up steps of its kind</param>
public sealed record StepTiming(long Step, string Kind, double Ms, ulong? MemoryBytes, bool Measured);

/// <summary>The measured (post-warm-up) steps of one kind; the times are null when none was measured.</summary>
public sealed record KindTiming(string Kind, int Measured, double? MedianMs, double? MinMs, double? MaxMs);

/// <param name="PeakBytes">the largest reading after any step (null when none was read)</param>
public sealed record BenchMemory(string Source, ulong? BaselineBytes, ulong? PeakBytes, ulong? CapacityBytes);

/// <summary>The rCM settings that shape an iteration's work, as the bench set them.</summary>
public sealed record BenchedRcmSettings(int TangentWarmup, double DmdWeight, int StudentUpdateEvery, int MaxSimulationSteps,
    double TeacherGuidance, double? FiniteDifferenceStep);

/// <summary>Where the run ran out of memory ("at step 0 (student)", "while making the student and the critic …") and libtorch's words.</summary>
public sealed record OutOfMemoryFailure(string Where, string Message);

/// <summary>What `turbo-convert distill-bench` measured, as written to --json.</summary>
/// <param name="ParametersPerNetwork">of each of the teacher, the student and the critic</param>
/// <param name="TokensPerClip">DiT tokens of one clip: the latent divided by the patch size</param>
public sealed record RcmBenchResult(
    string Checkpoint, string Device, string Dtype, DateTimeOffset Date,
    int Layers, int Dim, long ParametersPerNetwork,
    string Resolution, int Width, int Height, int Frames, int Batch, long[] Latent, long TokensPerClip, int TextLen,
    string Tangent, int Warmup, int Iterations, BenchedRcmSettings Rcm,
    KindTiming Student, KindTiming Critic, BenchMemory Memory, IReadOnlyList<StepTiming> Steps, OutOfMemoryFailure? OutOfMemory)
{
    public bool Fits => OutOfMemory is null;

    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
