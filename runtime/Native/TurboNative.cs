using System.Reflection;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Turbo.Runtime.Native;

/// <summary>
/// The bundled CUDA runtime library (runtime/native, built with CMake + nvcc) through its C ABI.
/// Optional: when it is not found, callers take the TorchSharp reference path. Looked up, in order, at
/// $TURBO_NATIVE_LIB (a file), beside the program, and in runtime/native/build of the source tree.
/// </summary>
public static partial class TurboNative
{
    const string Lib = "turbo_native";
    const string FileName = "libturbo_native.so";
    static readonly Lazy<string?> LoadedFrom = new(Resolve);

    static TurboNative() => NativeLibrary.SetDllImportResolver(typeof(TurboNative).Assembly, (name, asm, path) =>
        name == Lib && LoadedFrom.Value is { } file ? NativeLibrary.Load(file) : IntPtr.Zero);

    /// <summary>True when the library was found and loads.</summary>
    public static bool IsAvailable => LoadedFrom.Value is not null;

    /// <summary>The ABI version from which turbo_rmsnorm_rope takes no RoPE tables (the plain RMSNorm).</summary>
    const int PlainRmsNormAbiVersion = 6;

    /// <summary>True when the library can run the plain RMSNorm (an older build would read absent tables).</summary>
    public static bool HasPlainRmsNorm => IsAvailable && turbo_version() >= PlainRmsNormAbiVersion;

    /// <summary>The ABI version from which the norms take a residual update first and turbo_gate_residual takes no gate.</summary>
    const int ResidualNormAbiVersion = 14;

    /// <summary>True when the library has turbo_residual_layernorm_modulate and an ungated turbo_gate_residual.</summary>
    public static bool HasResidualNorms => IsAvailable && turbo_version() >= ResidualNormAbiVersion;

    /// <summary>Where the library was found, or why not: printed by commands so users know which path runs.</summary>
    public static string Describe() => LoadedFrom.Value is { } f
        ? $"native CUDA library {f} (ABI v{turbo_version()})"
        : $"native CUDA library not found ({FileName}: set TURBO_NATIVE_LIB or build runtime/native); using TorchSharp reference ops";

    static string? Resolve()
    {
        foreach (string candidate in Candidates())
            if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out _)) return candidate;
        return null;
    }

    static IEnumerable<string> Candidates()
    {
        if (Environment.GetEnvironmentVariable("TURBO_NATIVE_LIB") is { Length: > 0 } env) yield return env;
        yield return Path.Combine(AppContext.BaseDirectory, FileName);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Toolkit.sln")))
            {
                yield return Path.Combine(dir.FullName, "runtime", "native", "build", FileName);
                yield break;
            }
    }

    /// <summary>Throws with the library's own message when a call failed.</summary>
    internal static void Check(int status)
    {
        if (status != 0) throw new InvalidOperationException(Marshal.PtrToStringAnsi(turbo_last_error()) ?? $"native error {status}");
    }

    /// <summary>Device address of a contiguous tensor's first element.</summary>
    internal static IntPtr Ptr(Tensor t)
    {
        if (!t.is_contiguous()) throw new ArgumentException("native kernels need contiguous tensors");
        return THSStorage_data_ptr(t.Handle) + (nint)(t.storage_offset() * t.element_size());
    }

    internal static IntPtr PtrOrNull(Tensor? t) => t is null ? IntPtr.Zero : Ptr(t);

    /// <summary>Device address of element [0, …, 0] of a strided tensor (for kernels that take its strides too).</summary>
    internal static IntPtr StridedPtr(Tensor t) =>
        THSStorage_data_ptr(t.Handle) + (nint)(t.storage_offset() * t.element_size());

    internal static int DType(Tensor t) => DType(t.dtype);

    internal static int DType(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => 0,
        ScalarType.BFloat16 => 1,
        ScalarType.Float16 => 2,
        _ => throw new ArgumentException($"native kernels take float32, bfloat16 or float16, not {dtype}"),
    };

    [DllImport("LibTorchSharp")] static extern IntPtr THSStorage_data_ptr(IntPtr tensor);

    [DllImport(Lib)] static extern IntPtr turbo_last_error();
    [DllImport(Lib)] static extern int turbo_version();
    [DllImport(Lib)] internal static extern int turbo_event_create(out IntPtr evt);
    [DllImport(Lib)] internal static extern int turbo_event_destroy(IntPtr evt);
    [DllImport(Lib)] internal static extern int turbo_event_record(IntPtr evt, IntPtr stream);
    [DllImport(Lib)] internal static extern int turbo_event_elapsed_ms(IntPtr start, IntPtr end, out float ms);
    [DllImport(Lib)] internal static extern int turbo_device_synchronize();
    [DllImport(Lib)] internal static extern int turbo_mem_info(out ulong free, out ulong total);

    [DllImport(Lib)]
    internal static extern int turbo_layernorm_modulate(IntPtr x, int xDtype, IntPtr weight, IntPtr bias, IntPtr shift,
        IntPtr scale, IntPtr y, int yDtype, long rows, long tokens, int dim, float eps, IntPtr stream);

    [DllImport(Lib)]
    internal static extern int turbo_rmsnorm_rope(IntPtr x, IntPtr weight, IntPtr cos, IntPtr sin, IntPtr y, int dtype,
        long rows, long tokens, int dim, int headDim, float eps, IntPtr stream);

    [DllImport(Lib)]
    internal static extern int turbo_residual_layernorm_modulate(IntPtr x, IntPtr update, int updateDtype, IntPtr gate,
        IntPtr xOut, IntPtr weight, IntPtr bias, IntPtr shift, IntPtr scale, IntPtr y, int yDtype, long rows, long tokens,
        int dim, float eps, IntPtr stream);

    [DllImport(Lib)]
    internal static extern int turbo_gate_residual(IntPtr x, IntPtr y, int yDtype, IntPtr gate, IntPtr output, long rows,
        long tokens, int dim, IntPtr stream);
}
