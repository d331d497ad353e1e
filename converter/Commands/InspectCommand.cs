using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Turbo.Converter.Checkpoints;
using Turbo.Converter.Cli;
using Turbo.Converter.Inspection;

namespace Turbo.Converter.Commands;

/// <summary>`inspect`: what a checkpoint is (family, naming, config, size) and what converting it would do.</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var path = CommonOptions.CheckpointArgument();
        var config = CommonOptions.Config();
        var json = new Option<bool>("--json") { Description = "print machine-readable JSON instead of a table" };
        var command = new Command("inspect", "Identify a checkpoint: family, naming, config, size, memory estimates, conversion plan.")
        {
            path, config, json,
        };
        command.SetAction(parse =>
        {
            string checkpointPath = parse.GetRequiredValue(path);
            using var checkpoint = AdaptedCheckpoints.Open(checkpointPath, parse.GetValue(config));
            var report = InspectReport.Of(checkpointPath, checkpoint);
            if (parse.GetValue(json)) CommandConsoles.Output(parse).WriteLine(report.ToJson());
            else Render(report, CommandConsoles.ForOutput(parse));
            return 0;
        });
        return command;
    }

    static void Render(InspectReport r, IAnsiConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("").AddColumn(Markup.Escape(r.Path));
        void Row(string key, string value) => table.AddRow(new Text(key), new Text(value));
        Row("family", r.Family);
        Row("naming", r.Naming);
        Row("files", string.Join("\n", r.Files));
        Row("config", r.ConfigOrigin);
        foreach (var (key, value) in r.Config)
            Row("  " + key, value switch
            {
                int[] a => "[" + string.Join(", ", a) + "]",
                double d => d.ToString(d < 1e-3 ? "0.###E+0" : "G", CultureInfo.InvariantCulture),
                bool b => b ? "true" : "false",
                _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
            });
        Row("tensors", N(r.TensorCount));
        Row("parameters", N(r.Parameters));
        Row("dtypes", string.Join(", ", r.DTypeCounts.Select(d => $"{d.Key} x{d.Value}")));
        Row("size on disk", $"{ByteSize.Format(r.Bytes)} ({N(r.Bytes)} bytes)");
        Row("memory bf16", ByteSize.Format(r.Memory.Bf16Bytes));
        Row("memory W8A8", $"{ByteSize.Format(r.Memory.Int8Bytes)} (INT8 block linears: {N(r.Memory.BlockLinearParameters)} params; rest bf16)");
        Row("plan", string.Join("\n", r.Plan.Select((p, i) => $"{i + 1}. {p}")));
        console.Write(table);
    }

    static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
