using System.Runtime;
using Turbo.Runtime.Native;

namespace Turbo.Tests;

public class CollectionPauseTests
{
    [Test]
    public void EveryTestRunsWithCollectionsHeldBack() =>
        Assert.That(GCSettings.LatencyMode, Is.EqualTo(GCLatencyMode.NoGCRegion));

    [Test]
    public void AnotherThreadsAllocationsStartNoCollection()
    {
        using var pause = CollectionPause.Begin();
        pause.Checkpoint();
        int before = GC.CollectionCount(0);
        var allocator = new Thread(() =>
        {
            for (int i = 0; i < 4096; i++) GC.KeepAlive(new byte[16 * 1024]); // 64 MB, well past a gen0 budget
        });
        allocator.Start();
        allocator.Join();
        Assert.That(GC.CollectionCount(0), Is.EqualTo(before));
    }

    [Test]
    public void CheckpointRenewsAPauseWhoseBudgetIsHalfSpent()
    {
        using var pause = CollectionPause.Begin();
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 200; i++) GC.KeepAlive(new byte[1 << 20]); // 200 MB of the 256 MB budget
            Assert.That(GCSettings.LatencyMode, Is.EqualTo(GCLatencyMode.NoGCRegion), $"round {round}");
            pause.Checkpoint();
        }
    }
}
