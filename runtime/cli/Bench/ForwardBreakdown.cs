using Spectre.Console;
using Turbo.Runtime;
using Turbo.Runtime.Native;

namespace Turbo.Cli.Bench;

/// <summary>
/// Where one forward's GPU time goes: the model code marks its regions (<see cref="CudaProfiler.Scope"/>: "linear",
/// "self-attention", "cross-attention", and details such as "self-attention/selection"), each forward is profiled with
/// CUDA events, and the median per category over the repeats is kept. "total" is the whole forward and "rest" the total
/// minus the top-level categories; details (names with a '/') are parts of their parent, not added again.
/// </summary>
static class ForwardBreakdown
{
    public static readonly string[] TopLevel = ["linear", "self-attention", "cross-attention", "rest"];

    public static Dictionary<string, double> Measure(Action forward, int repeats)
    {
        using var profiler = new CudaProfiler();
        var runs = new List<Dictionary<string, double>>();
        for (int i = 0; i < repeats; i++)
        {
            using (profiler.Measure("total"))
            {
                CudaProfiler.Active = profiler;
                try { forward(); }
                finally { CudaProfiler.Active = null; }
            }
            var run = profiler.Collect();
            run["rest"] = run["total"] - run.Where(kv => kv.Key != "total" && !IsDetail(kv.Key)).Sum(kv => kv.Value);
            runs.Add(run);
        }
        var keys = runs.SelectMany(r => r.Keys).Distinct();
        return keys.ToDictionary(k => k, k => Statistics.Median(runs.Select(r => r.GetValueOrDefault(k))));
    }

    /// <summary>A table of the parts (rows) of one or more breakdowns (columns), details indented under their parent.</summary>
    public static Table Table(string title, params (string Name, Dictionary<string, double> Parts)[] columns)
    {
        var table = new Table().Title(title).AddColumn("part");
        foreach (var (name, _) in columns) table.AddColumn(name + ", ms", c => c.RightAligned()).AddColumn("share", c => c.RightAligned());
        foreach (var key in TopLevel)
        {
            table.AddRow([key, .. columns.SelectMany(c => Cells(c.Parts, key))]);
            var details = columns.SelectMany(c => c.Parts.Keys).Where(k => k.StartsWith(key + "/", StringComparison.Ordinal)).Distinct().Order();
            foreach (var detail in details)
                table.AddRow(["  " + Markup.Escape(detail[(key.Length + 1)..]), .. columns.SelectMany(c => Cells(c.Parts, detail))]);
        }
        table.AddRow(["[bold]total (profiled)[/]", .. columns.SelectMany(c => Cells(c.Parts, "total"))]);
        return table;
    }

    static IEnumerable<string> Cells(Dictionary<string, double> parts, string key) =>
        parts.TryGetValue(key, out double ms) ? [$"{ms:F1}", $"{100 * ms / parts["total"]:F0}%"] : ["", ""];

    static bool IsDetail(string category) => category.Contains('/');
}
