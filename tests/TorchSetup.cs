using Turbo.Runtime.Native;

namespace Turbo.Tests;

/// <summary>Runs once before any test: TorchSharp must be loadable before the first tensor.</summary>
[SetUpFixture]
public sealed class TorchSetup
{
    [OneTimeSetUp]
    public void MakeTorchLoadable() => TorchLoader.EnsureLoadable();
}
