using TorchSharp;
using Turbo.Runtime.Models;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Runtime.Quant;

/// <summary>
/// A W8A8 feed-forward block (Linear → GELU → Linear) on the GPU with its middle fused, so that the hidden activations
/// — the widest tensor of a Wan block — are written at most once, in the model dtype, and read once. Two routes, chosen
/// by the first Linear's GEMM (by measurement, `turbo check-int8`, docs/PERF.md):
/// <list type="bullet">
/// <item>wgmma (Hopper): the first Linear with its epilogue fused writes the hidden activations in the model dtype, and
/// one pass takes their GELU and quantizes them for the second Linear (<see cref="Int8Kernels.GeluQuantizeRows"/>);</item>
/// <item>cuBLASLt: its INT32 product (<see cref="CudaInt8LinearKernel.Accumulate"/>) goes through the epilogue, GELU and
/// the second Linear's quantization in one kernel (<see cref="Int8Kernels.GeluRequantize"/>).</item>
/// </list>
/// Both compute the same numbers: the hidden activations rounded to the model dtype, then GELU rounded again, then the
/// quantization. The second Linear runs on its own GEMM. Used where both layers are per-channel INT8 kernels on
/// cuBLASLt or wgmma; anything else (calibration observers, autograd, other kernels) takes the unfused path.
/// </summary>
public static class Int8FeedForward
{
    /// <summary>first → GELU (tanh form) → second on the normed input [..., K] fused, or null where the fused path does not apply.</summary>
    public static Tensor? TryForward(WanLinear first, WanLinear second, NormedInput input)
    {
        if (first.Kernel is not CudaInt8LinearKernel a || second.Kernel is not CudaInt8LinearKernel b) return null;
        if (a.Gemm is not (Int8Gemm.CublasLt or Int8Gemm.Wgmma) || b.Gemm is not (Int8Gemm.CublasLt or Int8Gemm.Wgmma)) return null;
        if (!TurboNative.HasInt8Kernels) return null;
        if (second.InputObserver is not null) return null;
        var hiddenDtype = first.Bias.dtype;
        if (!Int8Kernels.IsKernelFloat(hiddenDtype)) return null;

        using var scope = NewDisposeScope();
        using var profiled = CudaProfiler.Scope("linear");
        if (input.QuantizedFor(first) is not { } quantizedInput) return null;
        var (values, scale) = quantizedInput;
        Tensor hidden, hiddenScale;
        if (a.Gemm == Int8Gemm.Wgmma)
        {
            var activations = a.ProductOfQuantized(values, scale, first.Bias);
            using (CudaProfiler.Scope("linear/gelu + quantize"))
                (hidden, hiddenScale) = Int8Kernels.GeluQuantizeRows(activations, b.Weight.Smooth);
        }
        else
        {
            var accumulators = a.Accumulate(values);
            using (CudaProfiler.Scope("linear/epilogue + gelu + quantize"))
                (hidden, hiddenScale) = Int8Kernels.GeluRequantize(accumulators, scale, a.Weight.Scale, first.Bias.to(ScalarType.Float32),
                    hiddenDtype, b.Weight.Smooth);
        }
        var y = b.ProductOfQuantized(hidden, hiddenScale, second.Bias);
        return y.view([.. input.Shape[..^1], b.OutFeatures]).MoveToOuterDisposeScope();
    }
}
