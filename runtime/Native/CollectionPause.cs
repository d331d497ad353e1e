using System.Runtime;

namespace Turbo.Runtime.Native;

/// <summary>
/// Holds the .NET garbage collector back while TorchSharp calls into libtorch, letting it run only at safe points
/// on the calling thread (<see cref="Checkpoint"/>, <see cref="Dispose"/>).
/// <para>
/// Why: TorchSharp 0.107 hands libtorch the native handles of short-lived wrappers — the implicit Scalar of
/// <c>x * 2</c> or <c>add_(y, alpha: a)</c>, the Scalar that <c>item()</c> returns, tensors outside a dispose scope —
/// without keeping the wrappers alive for the length of the native call. A collection started meanwhile by another
/// thread (a progress display, the test host) lets the finalizer thread free memory that libtorch is still reading:
/// rarely and at random, a wrong number, NaN weights or a libtorch error. Inside a pause no collection happens, so no
/// wrapper is finalized mid-call.
/// </para>
/// The pause is process-wide: pauses nest (the outermost one starts and ends it) and any of them may call
/// <see cref="Checkpoint"/>. Allocating beyond the budget ends it early, as the runtime requires; a checkpoint between
/// units of work renews it before that happens.
/// </summary>
public sealed class CollectionPause : IDisposable
{
    const long Budget = 256L << 20;
    static long s_allocatedAtStart;
    readonly bool _owner;

    CollectionPause(bool owner)
    {
        _owner = owner;
        if (owner) Start();
    }

    /// <summary>Starts a pause, or joins the one already running.</summary>
    public static CollectionPause Begin() => new(owner: !Active);

    static bool Active => GCSettings.LatencyMode == GCLatencyMode.NoGCRegion;

    /// <summary>A safe point (no native call in flight on this thread): renews the pause when half its budget is used.</summary>
    public void Checkpoint()
    {
        if (Active && GC.GetTotalAllocatedBytes() - s_allocatedAtStart < Budget / 2) return;
        End();
        Start();
    }

    public void Dispose()
    {
        if (_owner) End();
    }

    static void Start()
    {
        s_allocatedAtStart = GC.GetTotalAllocatedBytes();
        GC.TryStartNoGCRegion(Budget); // collects first, here, at a safe point
    }

    static void End()
    {
        if (!Active) return;
        try { GC.EndNoGCRegion(); }
        catch (InvalidOperationException) { } // the runtime already ended it (budget spent): nothing to end
    }
}
