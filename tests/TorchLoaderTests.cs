using Turbo.Runtime.Native;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests;

public class TorchLoaderTests
{
    [Test]
    public void TorchSharpRunsMatmulAndAutograd()
    {
        TestContext.Out.WriteLine("TorchLoader: " + TorchLoader.Status);
        using var a = tensor(new float[] { 1, 2, 3, 4 }, 2, 2).requires_grad_(true);
        using var y = a.matmul(a).sum();
        y.backward(); // d/dA sum(A·A) = 1·Aᵀ + Aᵀ·1
        Assert.That(y.item<float>(), Is.EqualTo(7 + 10 + 15 + 22));
        Assert.That(a.grad!.data<float>().ToArray(), Is.EqualTo(new float[] { 7, 11, 9, 13 }));
    }

    /// <summary>oneDNN's AVX2 and AVX-512 float32 conv3d kernels return wrong numbers on some CPUs; TorchLoader caps it at AVX.</summary>
    [TestCase(24, 32, 9)]
    [TestCase(24, 32, 5)]
    [TestCase(64, 64, 4)]
    [TestCase(8, 3, 7)]
    [TestCase(16, 3, 3)]
    public void CpuConvolutionMatchesFloat64(int inputs, int outputs, int frames)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(3);
        var x = randn([4, inputs, frames, 16, 16], generator: generator).requires_grad_(true);
        var w = (randn([outputs, inputs, 3, 3, 3], generator: generator) * 0.1).requires_grad_(true);
        var y = nn.functional.conv3d(x, w, padding: [1, 1, 1]);
        var (gx, gw) = Gradients(y, x, w);
        var x64 = x.detach().to(float64).requires_grad_(true);
        var w64 = w.detach().to(float64).requires_grad_(true);
        var y64 = nn.functional.conv3d(x64, w64, padding: [1, 1, 1]);
        var (gx64, gw64) = Gradients(y64, x64, w64);
        Assert.That(RelativeError.Of(y.to(float64), y64), Is.LessThan(1e-5), "output");
        Assert.That(RelativeError.Of(gx.to(float64), gx64), Is.LessThan(1e-5), "input gradient");
        Assert.That(RelativeError.Of(gw.to(float64), gw64), Is.LessThan(1e-5), "weight gradient");
    }

    static (Tensor Input, Tensor Weight) Gradients(Tensor output, Tensor input, Tensor weight)
    {
        output.square().sum().backward();
        return (input.grad!, weight.grad!);
    }
}
