using System.Runtime;
using static TorchSharp.torch;

namespace Turbo.Tests.CalibrationData;

/// <summary>
/// Disposes every tensor a test makes when it ends, and keeps the garbage collector from running during the test:
/// with TorchSharp 0.107 here, tensors left to the .NET finalizer, and collections while tensors are in use, were
/// seen to corrupt other tensors (a model's outputs turned to garbage for one test in a full run, never alone).
/// </summary>
public abstract class TensorScopePerTest
{
    IDisposable? _scope;

    [SetUp]
    public void OpenTensorScope()
    {
        GC.TryStartNoGCRegion(1L << 30);
        _scope = NewDisposeScope();
    }

    [TearDown]
    public void DisposeTensors()
    {
        _scope?.Dispose();
        if (GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
    }
}
