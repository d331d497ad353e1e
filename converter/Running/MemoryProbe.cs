using System.Diagnostics;
using TorchSharp;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Converter.Running;

/// <summary>
/// Memory a benchmark can read between steps (TorchSharp 0.107 exposes no max_memory_allocated).
/// On CUDA, with the native library: the device memory in use (cudaMemGetInfo) — the CUDA context plus libtorch's
/// caching allocator, which keeps the blocks it reserved at a step's peak, so a sample after a step bounds that step's
/// peak from above; other processes on the device count too, hence the baseline taken before loading. On the CPU: the
/// process's peak working set.
/// </summary>
public sealed class MemoryProbe
{
    readonly Func<ulong>? _read;

    /// <summary>What the samples are, in words (or why there are none).</summary>
    public string Source { get; }

    /// <summary>The reading when the probe was made (before any model was loaded); null when nothing can be read.</summary>
    public ulong? Baseline { get; }

    /// <summary>All the memory there is: the device's, or the machine's for the CPU; null when unknown.</summary>
    public ulong? Capacity { get; }

    MemoryProbe(string source, Func<ulong>? read, ulong? capacity)
    {
        (Source, _read, Capacity) = (source, read, capacity);
        Baseline = read?.Invoke();
    }

    /// <summary>A probe for <paramref name="device"/>; make it before loading anything, so its baseline is what others hold.</summary>
    public static MemoryProbe For(Device device)
    {
        if (device.type != DeviceType.CUDA)
            return new("peak working set of the process", PeakWorkingSet, (ulong)GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
        if (!TurboNative.IsAvailable)
            return new("not measured: reading device memory needs the native CUDA library (" + TurboNative.Describe() + ")", null, null);
        return new("device memory in use (cudaMemGetInfo: CUDA context + libtorch's caching allocator), sampled after every step",
            CudaProfiler.DeviceMemoryUsed, CudaProfiler.DeviceMemoryTotal());
    }

    /// <summary>The current reading, or null when this probe reads nothing.</summary>
    public ulong? Sample() => _read?.Invoke();

    static ulong PeakWorkingSet()
    {
        using var process = Process.GetCurrentProcess();
        return (ulong)process.PeakWorkingSet64;
    }
}
