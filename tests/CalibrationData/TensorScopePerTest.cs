using static TorchSharp.torch;

namespace Turbo.Tests.CalibrationData;

/// <summary>
/// Disposes every tensor a test makes when it ends: TorchSharp tensors left to the .NET finalizer were seen to
/// corrupt other tensors (e.g. a loaded model's weights) in the same process.
/// </summary>
public abstract class TensorScopePerTest
{
    IDisposable? _scope;

    [SetUp]
    public void OpenTensorScope() => _scope = NewDisposeScope();

    [TearDown]
    public void DisposeTensors() => _scope?.Dispose();
}
