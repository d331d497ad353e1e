namespace Turbo.Runtime.Native;

/// <summary>
/// Times categories of GPU work (e.g. "linear", "self-attention") with pairs of CUDA events recorded around each
/// region on the default stream, so the GPU is never stalled while recording. <see cref="Collect"/> synchronizes once
/// and sums milliseconds per category. Needs the native library (which owns the CUDA event calls).
/// </summary>
public sealed class CudaProfiler : IDisposable
{
    readonly List<(string Category, IntPtr Start, IntPtr End)> _regions = [];
    readonly Stack<IntPtr> _free = new();

    public CudaProfiler()
    {
        if (!TurboNative.IsAvailable) throw new TurboException("GPU timing needs the native CUDA library: " + TurboNative.Describe());
    }

    [ThreadStatic] static CudaProfiler? _active;

    /// <summary>The profiler that <see cref="Scope"/> records into on this thread; null (the default) = no timing.</summary>
    public static CudaProfiler? Active { get => _active; set => _active = value; }

    /// <summary>
    /// Marks a region of model code (e.g. "linear") for the active profiler; free when none is active. Regions of
    /// different categories must not nest, so that their times add up — except details, named "parent/part" (e.g.
    /// "self-attention/selection"), which lie inside a region of their parent and are reported as parts of it.
    /// </summary>
    public static Region Scope(string category) => _active?.Measure(category) ?? default;

    /// <summary>Runs <paramref name="work"/> inside <see cref="Scope"/>(<paramref name="category"/>): one expression, timed.</summary>
    public static T Timed<T>(string category, Func<T> work)
    {
        using (Scope(category)) return work();
    }

    /// <summary>Marks the start of a region; dispose the result at its end.</summary>
    public Region Measure(string category)
    {
        IntPtr start = Rent();
        TurboNative.Check(TurboNative.turbo_event_record(start, IntPtr.Zero));
        return new Region(this, category, start);
    }

    public readonly struct Region(CudaProfiler? owner, string category, IntPtr start) : IDisposable
    {
        public void Dispose()
        {
            if (owner is null) return;
            IntPtr end = owner.Rent();
            TurboNative.Check(TurboNative.turbo_event_record(end, IntPtr.Zero));
            owner._regions.Add((category, start, end));
        }
    }

    /// <summary>Milliseconds per category since the last Collect (waits for the GPU), then resets.</summary>
    public Dictionary<string, double> Collect()
    {
        var totals = new Dictionary<string, double>();
        foreach (var (category, start, end) in _regions)
        {
            TurboNative.Check(TurboNative.turbo_event_elapsed_ms(start, end, out float ms));
            totals[category] = totals.GetValueOrDefault(category) + ms;
            _free.Push(start);
            _free.Push(end);
        }
        _regions.Clear();
        return totals;
    }

    IntPtr Rent()
    {
        if (_free.TryPop(out IntPtr e)) return e;
        TurboNative.Check(TurboNative.turbo_event_create(out e));
        return e;
    }

    public void Dispose()
    {
        foreach (var (_, s, e) in _regions) { _free.Push(s); _free.Push(e); }
        _regions.Clear();
        while (_free.TryPop(out IntPtr e)) TurboNative.turbo_event_destroy(e);
    }

    /// <summary>Device memory in use right now (all allocations of this process and the CUDA context), bytes.</summary>
    public static ulong DeviceMemoryUsed()
    {
        TurboNative.Check(TurboNative.turbo_mem_info(out ulong free, out ulong total));
        return total - free;
    }

    /// <summary>The device's memory, bytes.</summary>
    public static ulong DeviceMemoryTotal()
    {
        TurboNative.Check(TurboNative.turbo_mem_info(out _, out ulong total));
        return total;
    }

    public static void Synchronize() => TurboNative.Check(TurboNative.turbo_device_synchronize());

    /// <summary>Median GPU time of <paramref name="op"/> over <paramref name="repeats"/> calls after <paramref name="warmup"/>.</summary>
    public static double MedianMs(Action op, int warmup = 3, int repeats = 10)
    {
        using var profiler = new CudaProfiler();
        for (int i = 0; i < warmup; i++) op();
        var samples = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            using (profiler.Measure("op")) op();
            samples.Add(profiler.Collect()["op"]);
        }
        return Statistics.Median(samples);
    }
}
