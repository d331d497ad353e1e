using Turbo.Converter.Running;
using Turbo.Runtime;
using static TorchSharp.torch;

namespace Turbo.Tests.Converter;

public class OutOfMemoryTests
{
    static Exception Caught(Action action) => Assert.Catch(() => action())!;

    [Test]
    public void LibtorchsFailedAllocationIsOutOfMemory()
    {
        // 4 PiB: more than any address space, so the allocator refuses at once
        var e = Caught(() => empty(1L << 50).Dispose());
        Assert.That(OutOfMemory.Is(e), e.ToString());
        Assert.That(OutOfMemory.FirstLine(e), Does.Contain("can't allocate memory").And.Not.Contain("\n"));
    }

    [Test]
    public void OtherFailuresAreNot()
    {
        using var a = zeros(2, 3);
        var shapes = Caught(() => a.reshape(7).Dispose());
        Assert.That(OutOfMemory.Is(shapes), Is.False, shapes.Message);
        Assert.That(OutOfMemory.Is(new TurboException("--frames: out of memory is not this")), Is.False);
    }

    [Test]
    public void TheNativeKernelsOutOfMemoryIs() =>
        Assert.That(OutOfMemory.Is(new InvalidOperationException("CUDA error 2 (cudaErrorMemoryAllocation): out of memory")));
}
