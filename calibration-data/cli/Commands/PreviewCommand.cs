using System.CommandLine;
using TorchSharp;
using Turbo.CalibrationData.Shapes;
using Turbo.Runtime.Video;

namespace Turbo.CalibrationData.Cli;

/// <summary>`preview`: a PNG of some samples (one row per clip, one column per frame) and their captions.</summary>
public static class PreviewCommand
{
    public static Command Create()
    {
        var split = new Option<string>("--split") { Description = "train or heldout", DefaultValueFactory = _ => "train" };
        split.AcceptOnlyFromAmong("train", "heldout");
        var seed = new Option<ulong>("--seed") { Description = "dataset seed", DefaultValueFactory = _ => 0 };
        var start = new Option<long>("--start") { Description = "first sample index", DefaultValueFactory = _ => 0 };
        var count = new Option<int>("--count") { Description = "number of samples", DefaultValueFactory = _ => 8 };
        var frames = new Option<int>("--frames") { Description = "frames per clip (4n+1)", DefaultValueFactory = _ => 17 };
        var height = new Option<int>("--height") { Description = "pixels (multiple of 16, 32-128)", DefaultValueFactory = _ => 64 };
        var width = new Option<int>("--width") { Description = "pixels (multiple of 16, 32-128)", DefaultValueFactory = _ => 64 };
        var output = new Option<string>("--output", "-o") { Description = "PNG file to write", Required = true };
        var command = new Command("preview", "Render samples to a PNG contact sheet and print their captions.")
        {
            split, seed, start, count, frames, height, width, output,
        };
        command.SetAction(parse =>
        {
            var options = new ShapesOptions(parse.GetValue(frames), parse.GetValue(height), parse.GetValue(width));
            var dataset = new ShapesDataset(parse.GetValue(seed), options);
            var which = parse.GetRequiredValue(split) == "train" ? ShapesSplit.Train : ShapesSplit.HeldOut;
            int n = Math.Max(1, parse.GetValue(count));
            var samples = Enumerable.Range(0, n).Select(i => dataset.Sample(which, parse.GetValue(start) + i)).ToList();
            try
            {
                PngFrames.Write(parse.GetRequiredValue(output), ContactSheet.Build(samples.Select(s => s.Video).ToList()));
                foreach (var (sample, i) in samples.Select((s, i) => (s, i)))
                    parse.InvocationConfiguration.Output.WriteLine($"{parse.GetValue(start) + i}: {sample.Caption}");
            }
            finally
            {
                foreach (var sample in samples) sample.Dispose();
            }
            return 0;
        });
        return command;
    }
}
