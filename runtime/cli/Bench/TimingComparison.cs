using System.Text.Json;
using System.Text.Json.Nodes;
using Turbo.Runtime;

namespace Turbo.Cli.Bench;

/// <summary>One measurement of one row in both runs (milliseconds).</summary>
public sealed record TimingChange(string Row, string Measure, double BaseMs, double NewMs)
{
    /// <summary>New time over base time: below 1 is faster.</summary>
    public double Ratio => NewMs / BaseMs;
}

/// <summary>Rows of one run missing from the other, by run.</summary>
public sealed record TimingComparison(List<TimingChange> Changes, List<string> OnlyInBase, List<string> OnlyInNew)
{
    /// <summary>
    /// The A/B of two runs of the same timing command (the JSON of `turbo check-attention`, `turbo check-int8`): the
    /// rows of their "timings" arrays matched by their leading fields — those before the first time, which name the row
    /// (shape and method; model, layer and sizes) — and each finite field ending in "Ms" that both hold. Rows keep the
    /// base run's order.
    /// </summary>
    /// <param name="only">keep only rows whose name contains this text (any case), or null</param>
    public static TimingComparison Of(string baseJson, string newJson, string baseName, string newName, string? only = null)
    {
        var baseRows = Rows(baseJson, baseName);
        var newRows = Rows(newJson, newName);
        bool Wanted(string row) => only is null || row.Contains(only, StringComparison.OrdinalIgnoreCase);
        var changes = new List<TimingChange>();
        foreach (var (row, measures) in baseRows.Where(r => Wanted(r.Key)))
            if (newRows.TryGetValue(row, out var other))
                foreach (var (measure, ms) in measures)
                    if (other.TryGetValue(measure, out double newMs))
                        changes.Add(new TimingChange(row, measure, ms, newMs));
        return new TimingComparison(changes,
            [.. baseRows.Keys.Where(r => Wanted(r) && !newRows.ContainsKey(r))],
            [.. newRows.Keys.Where(r => Wanted(r) && !baseRows.ContainsKey(r))]);
    }

    /// <summary>Row name → measure → ms, both in the file's order.</summary>
    static OrderedDictionary<string, OrderedDictionary<string, double>> Rows(string json, string name)
    {
        JsonNode? doc;
        try { doc = JsonNode.Parse(json); }
        catch (JsonException e) { throw new TurboException($"{name}: not JSON ({e.Message})"); }
        if (doc?["timings"] is not JsonArray timings)
            throw new TurboException($"{name}: no \"timings\" array (expected the --json output of turbo check-attention or check-int8)");
        var rows = new OrderedDictionary<string, OrderedDictionary<string, double>>();
        foreach (var item in timings)
        {
            if (item is not JsonObject row) throw new TurboException($"{name}: a timing that is not an object");
            var keys = new List<string>();
            var measures = new OrderedDictionary<string, double>();
            bool pastName = false;
            foreach (var (field, value) in row)
            {
                pastName |= field.EndsWith("Ms", StringComparison.Ordinal);
                if (value is not JsonValue v) continue;
                if (!pastName) keys.Add(v.TryGetValue(out string? text) ? text : $"{field} {v.ToJsonString()}");
                else if (field.EndsWith("Ms", StringComparison.Ordinal) && v.TryGetValue(out double ms) && double.IsFinite(ms)) measures[field] = ms;
            }
            string key = string.Join(", ", keys);
            if (!rows.TryAdd(key, measures)) throw new TurboException($"{name}: two timings named \"{key}\"");
        }
        return rows;
    }
}
