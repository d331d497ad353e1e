using Spectre.Console;
using Turbo.Quantizer;

namespace Turbo.Converter.Cli;

/// <summary>
/// Progress of work in steps (calibrate, quantize, write, ...) as Spectre progress bars with elapsed and remaining
/// time: one bar per step, completed when the next begins.
/// </summary>
public sealed class SpectreStages : IStageProgress
{
    readonly ProgressContext _context;
    ProgressTask? _current;

    SpectreStages(ProgressContext context) => _context = context;

    /// <summary>Runs <paramref name="work"/> under a progress display on <paramref name="console"/> (normally stderr).</summary>
    public static T Run<T>(IAnsiConsole console, Func<IStageProgress, T> work) =>
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var stages = new SpectreStages(context);
                var result = work(stages);
                stages.Complete();
                return result;
            });

    public void Begin(string stage, double total)
    {
        Complete();
        _current = _context.AddTask(Markup.Escape(stage), maxValue: Math.Max(total, 1));
    }

    public void Advance(double units) => _current?.Increment(units);

    void Complete()
    {
        if (_current is not null) _current.Value = _current.MaxValue;
    }
}
