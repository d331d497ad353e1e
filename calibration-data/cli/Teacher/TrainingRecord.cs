using System.Text.Json;
using System.Text.Json.Serialization;

namespace Turbo.CalibrationData.Teacher;

/// <summary>
/// What one training stage did, kept beside the model (model/training-STAGE.json) for its card: the steps reached,
/// the settings, the device and the time summed over every run that resumed it, and the stage's own measure.
/// </summary>
public sealed record TrainingRecord(string Stage, long Steps, int BatchSize, double LearningRate, string Device,
    double Seconds, int Runs, long Parameters, IReadOnlyDictionary<string, double> Measures)
{
    /// <summary>
    /// The steps of each learning-rate schedule (warm-up, then cosine decay) the stage went through, in order, when it
    /// was continued from an earlier model (<see cref="ContinuedFrom"/>); null for a stage trained in one schedule.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<long>? Schedules { get; init; }

    /// <summary>The steps as a card shows them: "3,000 + 9,000" for a continued stage.</summary>
    [JsonIgnore]
    public string StepsText => Schedules is { Count: > 1 } s
        ? string.Join(" + ", s.Select(n => n.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)))
        : Steps.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// This run's record as a continuation of <paramref name="source"/>, the stage's record in the model it started
    /// from: its steps come after the source's, in a schedule of their own.
    /// </summary>
    public TrainingRecord ContinuedFrom(TrainingRecord source) => this with
    {
        Steps = source.Steps + Steps,
        Schedules = [.. source.Schedules ?? [source.Steps], Steps],
    };

    // A diverged run's NaN loss is recorded as "NaN" rather than failing the save after the training it describes.
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static string PathFor(string model, string stage) => Path.Combine(model, $"training-{stage}.json");

    /// <summary>
    /// Writes this run's record, adding the time and runs of the record already there (a resumed stage). A run that
    /// found the stage already at its steps trained nothing: the record there stays as it is.
    /// </summary>
    public static TrainingRecord Save(string model, TrainingRecord run)
    {
        var previous = Load(model, run.Stage);
        if (previous is not null && previous.Steps == run.Steps) return previous;
        var total = previous is null ? run : run with { Seconds = previous.Seconds + run.Seconds, Runs = previous.Runs + 1 };
        string path = PathFor(model, run.Stage), temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(total, Indented));
        File.Move(temp, path, overwrite: true);
        return total;
    }

    public static TrainingRecord? Load(string model, string stage)
    {
        string path = PathFor(model, stage);
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<TrainingRecord>(File.ReadAllText(path), Indented); }
        catch (JsonException e) { throw new Turbo.Runtime.TurboException($"{path}: not a training record ({e.Message})"); }
    }
}
