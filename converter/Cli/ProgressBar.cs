using Spectre.Console;

namespace Turbo.Converter.Cli;

/// <summary>Runs work under one Spectre progress bar (on the console given, normally stderr).</summary>
public static class ProgressBar
{
    /// <param name="work">Receives a callback that advances the bar by a number of units.</param>
    public static T Run<T>(IAnsiConsole console, string description, double total, Func<Action<double>, T> work) =>
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask(description, maxValue: Math.Max(total, 1));
                var result = work(units => task.Increment(units));
                task.Value = task.MaxValue;
                return result;
            });
}
