using static TorchSharp.torch;

namespace Turbo.Runtime.Quant;

/// <summary>
/// A Linear layer's matrix product in some weight representation other than the layer's own float weight
/// (e.g. INT8 + scales). The layer keeps its bias and hands it over; the kernel owns its weight tensors.
/// </summary>
public interface ILinearKernel : IDisposable
{
    long InFeatures { get; }
    long OutFeatures { get; }

    /// <summary>Short description for reports, e.g. "int8-channel W8A8 (reference)".</summary>
    string Description { get; }

    /// <summary>input [..., InFeatures] (any float dtype) → input·Wᵀ + bias, [..., OutFeatures] in the bias's dtype.</summary>
    Tensor Forward(Tensor input, Tensor bias);
}
