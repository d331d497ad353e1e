using Turbo.Runtime.Attention;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Attention;

public class DenseAttentionTests
{
    [Test]
    public void WrittenOutAttentionEqualsTheFusedKernel()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(2);
        var q = randn([2, 3, 37, 16], generator: g);
        var k = randn([2, 3, 29, 16], generator: g);
        var v = randn([2, 3, 29, 16], generator: g);
        var lengths = tensor(new long[] { 29, 11 });
        var backend = new DenseAttention();
        Assert.That(RelativeError.Of(DenseAttention.Explicit(q, k, v), backend.Attend(q, k, v)), Is.LessThan(1e-5));
        Assert.That(RelativeError.Of(DenseAttention.Explicit(q, k, v, lengths), backend.Attend(q, k, v, lengths)), Is.LessThan(1e-5));
        using (DenseAttention.ExplicitMath())
            Assert.That(backend.Attend(q, k, v).eq(DenseAttention.Explicit(q, k, v)).all().item<bool>(), "inside the scope the explicit form runs");
    }

    [Test]
    public void TheExplicitFormHasASecondDerivative()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(3);
        var q = randn([1, 2, 5, 4], dtype: ScalarType.Float64, generator: g).requires_grad_();
        var k = randn([1, 2, 5, 4], dtype: ScalarType.Float64, generator: g);
        var v = randn([1, 2, 5, 4], dtype: ScalarType.Float64, generator: g);
        var first = autograd.grad([DenseAttention.Explicit(q, k, v).square().sum()], [q], retain_graph: true, create_graph: true)[0];
        var second = autograd.grad([first.sum()], [q])[0];
        Assert.That(second.isfinite().all().item<bool>() && second.abs().sum().item<double>() > 0);
    }

    /// <summary>2²⁴ queries and keys make 1 PiB of scores, an allocation that fails at once: an exception, not the end of the process.</summary>
    [Test]
    public void TheExplicitFormRunningOutOfMemoryIsAnException()
    {
        using var q = zeros(1, 1, 1, 4).expand(1, 1, 1L << 24, 4);
        var e = Assert.Catch(() => DenseAttention.Explicit(q, q, q).Dispose())!;
        Assert.That(e.Message, Does.Contain("can't allocate memory"));
    }
}
