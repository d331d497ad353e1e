using Turbo.Runtime.Models;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Cli.Bench;

/// <summary>
/// What the GPU reaches on the model's own shapes, measured in the same run as the model: bf16 GEMM (the linears'
/// [tokens × K] · [K × N]), SDPA at the self-attention shape (libtorch's own choice of kernel: cuDNN's on Hopper), and
/// device-to-device copy bandwidth.
/// </summary>
public sealed record Ceilings(IReadOnlyList<Ceilings.GemmRate> Gemm, Ceilings.SdpaRate Sdpa, double CopyGiB, double CopyMs)
{
    public sealed record GemmRate(long M, long K, long N, double Ms)
    {
        public double Tflops => 2.0 * M * K * N / (Ms * 1e9);
    }

    public sealed record SdpaRate(long Heads, long Length, long HeadDim, double Ms)
    {
        public double Tflops => 4.0 * Length * Length * HeadDim * Heads / (Ms * 1e9);
    }

    /// <summary>Read + write bytes per second.</summary>
    public double CopyGBps => 2 * CopyGiB * (1L << 30) / (CopyMs * 1e6);

    public double BestGemmTflops => Gemm.Max(g => g.Tflops);

    public static Ceilings Measure(WanConfig c, long tokens, Device device)
    {
        using var noGrad = no_grad();
        var gemm = new[] { (c.Dim, c.Dim), (c.Dim, c.FfnDim), (c.FfnDim, c.Dim) }
            .Select(kn => MeasureGemm(tokens, kn.Item1, kn.Item2, device)).ToList();
        return new Ceilings(gemm, MeasureSdpa(c.NumHeads, tokens, c.HeadDim, device), 2.0, MeasureCopy(2L << 30, device));
    }

    static GemmRate MeasureGemm(long m, long k, long n, Device device)
    {
        using var a = randn(m, k, dtype: ScalarType.BFloat16, device: device);
        using var w = randn(n, k, dtype: ScalarType.BFloat16, device: device);
        return new GemmRate(m, k, n, CudaProfiler.MedianMs(() => nn.functional.linear(a, w).Dispose()));
    }

    static SdpaRate MeasureSdpa(long heads, long length, long headDim, Device device)
    {
        using var q = randn(1, heads, length, headDim, dtype: ScalarType.BFloat16, device: device);
        using var k = randn(1, heads, length, headDim, dtype: ScalarType.BFloat16, device: device);
        using var v = randn(1, heads, length, headDim, dtype: ScalarType.BFloat16, device: device);
        return new SdpaRate(heads, length, headDim, CudaProfiler.MedianMs(() => nn.functional.scaled_dot_product_attention(q, k, v).Dispose()));
    }

    static double MeasureCopy(long bytes, Device device)
    {
        using var source = empty(bytes, dtype: ScalarType.Byte, device: device);
        using var target = empty(bytes, dtype: ScalarType.Byte, device: device);
        return CudaProfiler.MedianMs(() => target.copy_(source));
    }
}
