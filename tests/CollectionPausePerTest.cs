using NUnit.Framework.Interfaces;
using Turbo.Runtime.Native;

[assembly: Turbo.Tests.CollectionPausePerTest]

namespace Turbo.Tests;

/// <summary>
/// Runs every test inside a <see cref="CollectionPause"/>: the test host's own threads allocate while a test is in
/// libtorch, and a collection then could free a TorchSharp temporary still in use (see CollectionPause).
/// </summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class CollectionPausePerTestAttribute : Attribute, ITestAction
{
    CollectionPause? _pause;

    public ActionTargets Targets => ActionTargets.Test;

    public void BeforeTest(ITest test) => _pause = CollectionPause.Begin();

    public void AfterTest(ITest test)
    {
        _pause?.Dispose();
        _pause = null;
    }
}
