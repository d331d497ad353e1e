using Turbo.Cli.Attention;
using Turbo.Runtime;
using static TorchSharp.torch;

namespace Turbo.Tests.Cli;

/// <summary>check-attention's baselines: libtorch's attention pinned to one backend, every switch put back after.</summary>
public class SdpaBackendsTests
{
    static (Tensor Q, Tensor K, Tensor V) Inputs()
    {
        var g = new TorchSharp.torch.Generator(7);
        return (randn([1, 2, 33, 16], generator: g), randn([1, 2, 21, 16], generator: g), randn([1, 2, 21, 16], generator: g));
    }

    [Test]
    public void FlashAloneComputesAttentionAndTheSwitchesComeBack()
    {
        var (q, k, v) = Inputs();
        Assert.That(SdpaBackends.Unavailable, Is.Null);
        var before = SdpaBackends.Enabled();
        bool[]? inside = null;
        var pinned = SdpaBackends.With(SdpaBackend.Flash, () =>
        {
            inside = SdpaBackends.Enabled();
            return nn.functional.scaled_dot_product_attention(q, k, v);
        });
        Assert.That(inside, Is.EqualTo(new[] { true, false, false, false }), "flash, memory-efficient, math, cuDNN");
        Assert.That(SdpaBackends.Enabled(), Is.EqualTo(before));
        var exact = (q.matmul(k.transpose(-1, -2)) / 4.0).softmax(-1).matmul(v);
        Assert.That((pinned - exact).abs().max().item<float>(), Is.LessThan(1e-5f));
    }

    [Test]
    public void ABackendThatCannotRunTheInputsIsNamedAndTheSwitchesComeBack()
    {
        var (q, k, v) = Inputs();
        var before = SdpaBackends.Enabled();
        // The CPU has no cuDNN attention: with it alone, libtorch finds no backend for CPU tensors.
        var e = Assert.Throws<TurboException>(() => SdpaBackends.With(SdpaBackend.CuDnn, () => nn.functional.scaled_dot_product_attention(q, k, v)));
        Assert.That(e!.Message, Does.Contain("cuDNN backend alone"));
        Assert.That(SdpaBackends.Enabled(), Is.EqualTo(before));
    }
}
