using TorchSharp;
using Turbo.Runtime;
using Turbo.Runtime.Native;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Tests.Quantizer;

/// <summary>
/// Which kernel computes a quantized layer: the CUDA INT8 kernels only where they can run (library loaded, INT8 weight
/// on a CUDA device, a shape the GEMM takes), else the reference — without a GPU or the library, always the reference.
/// </summary>
public class LinearKernelChoiceTests
{
    [Test]
    public void TheCudaKernelServesInt8WeightsOnTheGpuWhenTheLibraryIsLoaded()
    {
        foreach (var gemm in new[] { Int8Gemm.Mma, Int8Gemm.CublasLt })
        {
            Assert.That(CudaInt8LinearKernel.Unsupported(QuantFormat.Int8PerChannel, DeviceType.CUDA, 8960, 1536, gemm, nativeAvailable: true), Is.Null);
            Assert.That(CudaInt8LinearKernel.Unsupported(QuantFormat.Int8PerChannel, DeviceType.CUDA, 8960, 1536, gemm, nativeAvailable: false),
                Does.Contain("not loaded"));
            Assert.That(CudaInt8LinearKernel.Unsupported(QuantFormat.Int8PerChannel, DeviceType.CPU, 8960, 1536, gemm, nativeAvailable: true),
                Does.Contain("not CUDA"));
            Assert.That(CudaInt8LinearKernel.Unsupported(QuantFormat.Fp8E4M3PerChannel, DeviceType.CUDA, 8960, 1536, gemm, nativeAvailable: true),
                Does.Contain("fp8"));
        }
        Assert.That(CudaInt8LinearKernel.Unsupported(QuantFormat.Int8Block128, DeviceType.CUDA, 5120, 13824, Int8Gemm.Mma, nativeAvailable: true), Is.Null);
        Assert.That(CudaInt8LinearKernel.Unsupported(QuantFormat.Int8Block128, DeviceType.CUDA, 5120, 13824, Int8Gemm.CublasLt, nativeAvailable: true),
            Does.Contain("mma"));
        Assert.That(CudaInt8LinearKernel.Unsupported(QuantFormat.Int8PerChannel, DeviceType.CUDA, 64, 40, Int8Gemm.Mma, nativeAvailable: true),
            Does.Contain("multiple of 16"));
    }

    [Test]
    public void TheCudaFp8KernelServesFp8WeightsOnTheGpuWhereTheLibraryHasIt()
    {
        Assert.That(CudaFp8LinearKernel.Unsupported(QuantFormat.Fp8E4M3PerChannel, DeviceType.CUDA, 8960, 1536, fp8Available: true), Is.Null);
        Assert.That(CudaFp8LinearKernel.Unsupported(QuantFormat.Fp8E4M3PerChannel, DeviceType.CUDA, 8960, 1536, fp8Available: false),
            Does.Contain("not available"));
        Assert.That(CudaFp8LinearKernel.Unsupported(QuantFormat.Fp8E4M3PerChannel, DeviceType.CPU, 8960, 1536, fp8Available: true),
            Does.Contain("not CUDA"));
        Assert.That(CudaFp8LinearKernel.Unsupported(QuantFormat.Int8PerChannel, DeviceType.CUDA, 8960, 1536, fp8Available: true),
            Does.Contain("not fp8"));
        Assert.That(CudaFp8LinearKernel.Unsupported(QuantFormat.Fp8E4M3PerChannel, DeviceType.CUDA, 100, 208, fp8Available: true),
            Does.Contain("multiples of 16"));
    }

    [TestCase(QuantFormat.Int8PerChannel)]
    [TestCase(QuantFormat.Int8Block128)]
    [TestCase(QuantFormat.Fp8E4M3PerChannel)]
    public void OnTheCpuTheReferenceComputesTheLayer(QuantFormat format)
    {
        using var w = randn(16, 32);
        using var kernel = LinearKernels.For(WeightQuantizer.Quantize(w, format));
        Assert.That(kernel, Is.TypeOf<QuantizedLinear>());
        Assert.That(kernel.Description, Does.EndWith("(reference)"));
    }

    [Test]
    public void TheFusedFeedForwardAppliesOnlyToCudaInt8LayersSoElsewhereTheBlockIsUnchanged()
    {
        using var mlp = new Turbo.Runtime.Models.WanMlp(32, 64, 32, Turbo.Runtime.Models.WanMlp.GeluTanh, ScalarType.Float32, CPU);
        var layers = mlp.named_children().Select(c => (Turbo.Runtime.Models.WanLinear)c.module).ToArray();
        foreach (var layer in layers)
        {
            using (no_grad()) layer.Bias.normal_();
            layer.UseKernel(LinearKernels.For(WeightQuantizer.Quantize(randn(layer.OutFeatures, layer.InFeatures), QuantFormat.Int8PerChannel)));
        }
        using var x = randn(2, 5, 32);
        Assert.That(Int8FeedForward.TryForward(layers[0], layers[1], Turbo.Runtime.Models.NormedInput.Wrap(x)), Is.Null, "reference kernels are not fused");
        using var expected = layers[1].call(Turbo.Runtime.Models.WanMlp.GeluTanh(layers[0].call(x)));
        using var actual = mlp.call(x);
        Assert.That(actual.allclose(expected, rtol: 0, atol: 0), Is.True, "the unfused path, unchanged");
    }

    /// <summary>Wan's per-channel layers on Hopper: wgmma up to k 8,192 and for the wide 14B ffn.2.</summary>
    [TestCase(1536, 1536, true, Int8Gemm.Wgmma)]      // 1.3B attention
    [TestCase(1536, 8960, true, Int8Gemm.Wgmma)]      // 1.3B ffn.0
    [TestCase(8960, 1536, true, Int8Gemm.CublasLt)]   // 1.3B ffn.2
    [TestCase(5120, 13824, true, Int8Gemm.Wgmma)]     // 14B ffn.0
    [TestCase(13824, 5120, true, Int8Gemm.Wgmma)]     // 14B ffn.2
    [TestCase(1536, 1536, false, Int8Gemm.CublasLt)]  // no Hopper kernel
    [TestCase(13824, 5120, false, Int8Gemm.CublasLt)]
    public void PerChannelLayersTakeTheMeasuredFasterGemm(long inFeatures, long outFeatures, bool wgmmaRuns, Int8Gemm expected) =>
        Assert.That(LinearKernels.PerChannelGemm(inFeatures, outFeatures, wgmmaRuns), Is.EqualTo(expected));

    [Test]
    public void WithoutTheNativeLibraryAGpuWeightGetsTheReferenceToo()
    {
        Assume.That(TurboNative.HasInt8Kernels, Is.False, "the native library is loaded here");
        Assert.That(CudaInt8LinearKernel.Unsupported(QuantFormat.Int8PerChannel, DeviceType.CUDA, 1536, 1536, LinearKernels.PerChannelGemm(1536, 1536),
            TurboNative.HasInt8Kernels), Does.Contain("not loaded"));
    }

    [Test]
    public void TheCudaKernelRefusesAWeightItCannotServe()
    {
        using var w = randn(16, 32);
        var weight = WeightQuantizer.Quantize(w, QuantFormat.Int8PerChannel);
        try
        {
            var e = Assert.Throws<TurboException>(() => new CudaInt8LinearKernel(weight, Int8Gemm.Mma))!;
            Assert.That(e.Message, Does.StartWith("CUDA int8 linear [16, 32]: "));
        }
        finally
        {
            weight.Dispose();
        }
    }
}
