using System.Runtime.InteropServices;

namespace Turbo.Converter.Running;

/// <summary>Tells a failed allocation apart from other failures of a computation.</summary>
public static class OutOfMemory
{
    /// <summary>
    /// libtorch's errors reach .NET as <see cref="ExternalException"/> carrying its message: "CUDA out of memory. Tried
    /// to allocate …" from the CUDA caching allocator, "DefaultCPUAllocator: can't allocate memory …" on the CPU,
    /// CUBLAS_STATUS_ALLOC_FAILED when cuBLAS cannot get its workspace. The native kernels throw
    /// <see cref="InvalidOperationException"/> with CUDA's "out of memory".
    /// </summary>
    public static bool Is(Exception e) =>
        e is ExternalException or InvalidOperationException
        && (e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase)
            || e.Message.Contains("can't allocate memory", StringComparison.Ordinal)
            || e.Message.Contains("CUBLAS_STATUS_ALLOC_FAILED", StringComparison.Ordinal));

    /// <summary>The first line of the message (libtorch appends a stack trace).</summary>
    public static string FirstLine(Exception e) => e.Message.Split('\n', 2)[0].Trim();
}
