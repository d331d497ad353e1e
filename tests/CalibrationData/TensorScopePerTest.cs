using static TorchSharp.torch;

namespace Turbo.Tests.CalibrationData;

/// <summary>Disposes every tensor a test makes when it ends, so none is left to the .NET finalizer.</summary>
public abstract class TensorScopePerTest
{
    IDisposable? _scope;

    [SetUp]
    public void OpenTensorScope() => _scope = NewDisposeScope();

    [TearDown]
    public void DisposeTensors() => _scope?.Dispose();
}
