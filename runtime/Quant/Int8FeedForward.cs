using TorchSharp;
using Turbo.Runtime.Models;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Runtime.Quant;

/// <summary>
/// A W8A8 feed-forward block (Linear → GELU → Linear) on the GPU with its middle fused: the first Linear's INT32
/// product goes through its epilogue, GELU and the second Linear's per-token quantization in one kernel
/// (<see cref="Int8Kernels.GeluRequantize"/>), so the hidden activations — the widest tensor of a Wan block — are never
/// written in the model dtype, read for GELU, written again and read for quantization. With the wgmma kernel, whose
/// epilogue never leaves registers, GELU joins the first Linear's epilogue and only the quantization is a pass of its
/// own. Used where both layers run cuBLASLt or both wgmma; anything else (calibration observers, autograd, other
/// kernels) takes the unfused path.
/// </summary>
public static class Int8FeedForward
{
    /// <summary>first → GELU (tanh form) → second on the normed input [..., K] fused, or null where the fused path does not apply.</summary>
    public static Tensor? TryForward(WanLinear first, WanLinear second, NormedInput input)
    {
        if (first.Kernel is not CudaInt8LinearKernel a || second.Kernel is not CudaInt8LinearKernel b) return null;
        bool wgmma = a.Gemm == Int8Gemm.Wgmma && b.Gemm == Int8Gemm.Wgmma;
        if (!wgmma && (a.Gemm != Int8Gemm.CublasLt || b.Gemm != Int8Gemm.CublasLt || !TurboNative.HasGeluRequantize)) return null;
        if (second.InputObserver is not null) return null;
        var hiddenDtype = first.Bias.dtype;
        if (!Int8Kernels.IsKernelFloat(hiddenDtype)) return null;

        using var scope = NewDisposeScope();
        using var profiled = CudaProfiler.Scope("linear");
        if (input.QuantizedFor(first) is not { } quantizedInput) return null;
        var (values, scale) = quantizedInput;
        Tensor hidden, hiddenScale;
        if (wgmma)
        {
            var activated = a.ProductWithGelu(values, scale, first.Bias.to(ScalarType.Float32), hiddenDtype);
            (hidden, hiddenScale) = b.QuantizeInput(activated);
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
