using Turbo.Runtime.Native;
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
}
