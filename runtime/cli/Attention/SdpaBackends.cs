using System.Runtime.InteropServices;
using Turbo.Runtime;

namespace Turbo.Cli.Attention;

/// <summary>The kernel families of libtorch's scaled_dot_product_attention that a baseline is pinned to.</summary>
public enum SdpaBackend { CuDnn, Flash }

/// <summary>
/// libtorch's scaled_dot_product_attention with one backend alone, so that a baseline's name says which kernel ran.
/// libtorch runs the first enabled backend of its priority order, and that order moves: from libtorch 2.10 on, with a
/// cuDNN newer than 9.15 on sm90 and sm100, cuDNN's fused attention comes before FlashAttention (PyTorch 2.11 on an
/// H200 runs cuDNN's kernel for a plain call). TorchSharp switches only the flash and math backends; at::Context's own
/// switches, the ones torch.backends.cuda.enable_*_sdp call, are exported by libtorch_cpu under their C++ names.
/// </summary>
public static unsafe class SdpaBackends
{
    /// <summary>at::Context's switches (Itanium C++ ABI names: setter taking a bool, const getter) and the backend each is.</summary>
    static readonly (SdpaBackend? Backend, string Name, string Setter, string Getter)[] Switches =
    [
        (SdpaBackend.Flash, "flash", "_ZN2at7Context14setSDPUseFlashEb", "_ZNK2at7Context19userEnabledFlashSDPEv"),
        (null, "memory-efficient", "_ZN2at7Context21setSDPUseMemEfficientEb", "_ZNK2at7Context26userEnabledMemEfficientSDPEv"),
        (null, "math", "_ZN2at7Context13setSDPUseMathEb", "_ZNK2at7Context18userEnabledMathSDPEv"),
        (SdpaBackend.CuDnn, "cuDNN", "_ZN2at7Context14setSDPUseCuDNNEb", "_ZNK2at7Context19userEnabledCuDNNSDPEv"),
    ];

    const string Library = "libtorch_cpu.so";
    const string GlobalContext = "_ZN2at13globalContextEv";

    sealed record Resolution(IntPtr Context, IntPtr[] Setters, IntPtr[] Getters, string? Error);

    static readonly Lazy<Resolution> Resolved = new(Resolve);

    /// <summary>Why the backends cannot be switched in this process, or null when they can.</summary>
    public static string? Unavailable => Resolved.Value.Error;

    /// <summary>The backend's name as libtorch's documentation gives it.</summary>
    public static string Name(SdpaBackend backend) => Switches.First(s => s.Backend == backend).Name;

    /// <summary>Which of the backends are enabled now, in at::Context's order (flash, memory-efficient, math, cuDNN).</summary>
    public static bool[] Enabled()
    {
        var r = Required();
        return [.. r.Getters.Select(get => ((delegate* unmanaged<IntPtr, byte>)get)(r.Context) != 0)];
    }

    /// <summary>
    /// Runs <paramref name="run"/> with <paramref name="backend"/> the only enabled backend, then puts every switch back
    /// as it was. Where that backend cannot take the inputs, libtorch's error comes as a TurboException naming it.
    /// </summary>
    public static T With<T>(SdpaBackend backend, Func<T> run)
    {
        var r = Required();
        var saved = Enabled();
        try
        {
            for (int i = 0; i < Switches.Length; i++) Set(r, i, Switches[i].Backend == backend);
            return run();
        }
        catch (ExternalException e)
        {
            throw new TurboException($"scaled_dot_product_attention with the {Name(backend)} backend alone: {e.Message.Split('\n')[0]}");
        }
        finally
        {
            for (int i = 0; i < Switches.Length; i++) Set(r, i, saved[i]);
        }
    }

    static void Set(Resolution r, int i, bool enabled) => ((delegate* unmanaged<IntPtr, byte, void>)r.Setters[i])(r.Context, enabled ? (byte)1 : (byte)0);

    static Resolution Required() =>
        Resolved.Value is { Error: null } r ? r : throw new TurboException("libtorch's attention backends cannot be switched here: " + Resolved.Value.Error);

    // libtorch_cpu is loaded already (TorchSharp's own or the one TURBO_LIBTORCH named): opened by its soname, the
    // dynamic loader hands back that same library, whose context TorchSharp's calls read.
    static Resolution Resolve()
    {
        if (!NativeLibrary.TryLoad(Library, out var lib))
            return new(IntPtr.Zero, [], [], $"{Library} cannot be opened");
        var missing = Switches.SelectMany(s => new[] { s.Setter, s.Getter }).Append(GlobalContext)
            .Where(symbol => !NativeLibrary.TryGetExport(lib, symbol, out _)).ToList();
        if (missing.Count > 0)
            return new(IntPtr.Zero, [], [], $"{Library} does not export {string.Join(", ", missing)}");
        var context = ((delegate* unmanaged<IntPtr>)NativeLibrary.GetExport(lib, GlobalContext))();
        return new(context, [.. Switches.Select(s => NativeLibrary.GetExport(lib, s.Setter))],
            [.. Switches.Select(s => NativeLibrary.GetExport(lib, s.Getter))], null);
    }
}
