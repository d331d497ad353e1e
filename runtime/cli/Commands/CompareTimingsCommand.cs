using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Turbo.Cli.Bench;
using Turbo.Converter.Cli;
using Turbo.Runtime;

namespace Turbo.Cli.Commands;

/// <summary>
/// `turbo compare-timings BASE NEW`: the A/B of two runs of a timing command (check-attention, check-int8 with --json),
/// e.g. two builds of the CUDA library under the same program: each row's times side by side with their ratio.
/// </summary>
static class CompareTimingsCommand
{
    /// <summary>Changes smaller than this fraction are shown uncoloured: run-to-run spread, not a result.</summary>
    const double Spread = 0.03;

    public static Command Create()
    {
        var basePath = new Argument<string>("base") { Description = "JSON of the baseline run" };
        var newPath = new Argument<string>("new") { Description = "JSON of the run compared with it" };
        var only = new Option<string?>("--only") { Description = "Only rows whose names contain this text" };
        var json = new Option<bool>("--json") { Description = "Print the comparison as JSON instead of a table" };
        var cmd = new Command("compare-timings", "Compare two runs of check-attention or check-int8 (--json files) row by row") { basePath, newPath, only, json };
        cmd.SetAction(parse =>
        {
            string a = parse.GetRequiredValue(basePath), b = parse.GetRequiredValue(newPath);
            var comparison = TimingComparison.Of(Read(a), Read(b), a, b, parse.GetValue(only));
            if (parse.GetValue(json))
                CommandConsoles.Output(parse).WriteLine(JsonSerializer.Serialize(comparison, new JsonSerializerOptions { WriteIndented = true }));
            else
                Render(comparison, a, b, CommandConsoles.ForOutput(parse));
            return 0;
        });
        return cmd;
    }

    static string Read(string path) =>
        File.Exists(path) ? File.ReadAllText(path) : throw new TurboException($"{path}: no such file");

    static void Render(TimingComparison c, string a, string b, IAnsiConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("row", "measure", $"base, ms ({Markup.Escape(Path.GetFileName(a))})", $"new, ms ({Markup.Escape(Path.GetFileName(b))})", "new / base");
        foreach (var t in c.Changes)
        {
            string ratio = t.Ratio.ToString("F3", CultureInfo.InvariantCulture) + "×";
            string shown = Math.Abs(t.Ratio - 1) <= Spread ? ratio : t.Ratio < 1 ? $"[green]{ratio}[/]" : $"[red]{ratio}[/]";
            table.AddRow(Markup.Escape(t.Row), t.Measure, Ms(t.BaseMs), Ms(t.NewMs), shown);
        }
        console.Write(table);
        foreach (var (rows, run) in new[] { (c.OnlyInBase, "base"), (c.OnlyInNew, "new") })
            if (rows.Count > 0) console.MarkupLine($"[yellow]only in the {run} run:[/] {Markup.Escape(string.Join("; ", rows))}");
    }

    static string Ms(double ms) => ms.ToString(ms < 10 ? "F3" : "F2", CultureInfo.InvariantCulture);
}
