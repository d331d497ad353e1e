using TorchSharp;
using Turbo.Runtime.Native;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Runtime.Models;

/// <summary>
/// The output of one of a block's LayerNorms (+ modulation), [B, L, D], as the linear layers that read it need it.
/// Where every one of them is a W8A8 layer on the GPU (the package), the norm kernel makes their quantized inputs
/// itself (<see cref="Int8Kernels.LayerNormQuantize"/>): the normalized tensor is never written in the model's dtype,
/// nor read back once per layer to quantize it. Anywhere else (the CPU, float layers, calibration observers, autograd)
/// it is <see cref="FusedOps.LayerNormModulate"/>'s tensor and <see cref="Project"/> is the layer's own call. Both give
/// the same numbers: the fused kernel rounds each row to the model's dtype before quantizing, as the norm's output is.
/// Readers with the same smoothing — the same vector, or none, as the converter makes by default — get one quantized
/// input between them (a block's q, k and v: one quantization instead of three), on both paths.
/// Its tensors belong to the caller's dispose scope.
/// </summary>
public sealed class NormedInput
{
    readonly Tensor? tensor;
    readonly Dictionary<WanLinear, (Tensor Values, Tensor Scale)>? quantized;
    readonly WanLinear[] readers;
    // The tensor path's quantized inputs made so far, by smoothing vector (NoSmoothing for none); filled by Project.
    readonly Dictionary<object, (Tensor Values, Tensor Scale)> sharedInputs = new(ReferenceEqualityComparer.Instance);
    static readonly object NoSmoothing = new();

    NormedInput(long[] shape, Tensor? tensor, Dictionary<WanLinear, (Tensor Values, Tensor Scale)>? quantized, WanLinear[] readers) =>
        (Shape, this.tensor, this.quantized, this.readers) = (shape, tensor, quantized, readers);

    /// <summary>[B, L, D].</summary>
    public long[] Shape { get; }

    /// <summary>True when the norm kernel made the readers' quantized inputs (no tensor in the model's dtype exists).</summary>
    public bool IsQuantized => quantized is not null;

    /// <summary>
    /// (LayerNorm(x)[·weight + bias])·(1 + scale) + shift in <paramref name="dtype"/> for <paramref name="readers"/>,
    /// the layers that will <see cref="Project"/> it (arguments as <see cref="FusedOps.LayerNormModulate"/>).
    /// </summary>
    public static NormedInput Of(Tensor x, Tensor? weight, Tensor? bias, Tensor? shift, Tensor? scale, double eps,
        ScalarType dtype, params WanLinear[] readers)
    {
        if (FusedQuantizers(x, readers, dtype) is { } smooths)
            using (CudaProfiler.Scope("linear"))
            using (CudaProfiler.Scope("linear/norm + quantize"))
            {
                var distinct = DistinctSmoothings(smooths);
                var inputs = Int8Kernels.LayerNormQuantize(x, weight, bias, shift?.to(ScalarType.Float32), scale?.to(ScalarType.Float32),
                    eps, dtype, distinct);
                return FromKernel(x.shape, readers, smooths, distinct, inputs);
            }
        using (CudaProfiler.Scope("rest/norm + modulation"))
            return new(x.shape, FusedOps.LayerNormModulate(x, weight, bias, shift, scale, eps, dtype), null, readers);
    }

    /// <summary>
    /// A block's residual update and the norm after it: x' = x + y·gate (gate null: x + y; x the float32 residual stream
    /// [B, L, D], as <see cref="FusedOps.GateResidual"/>) and <see cref="Of"/>(x', ...). On the GPU one kernel does both
    /// (x' is written once and not read back); anywhere else the update, then the norm.
    /// </summary>
    public static (Tensor Residual, NormedInput Normed) AfterResidual(Tensor x, Tensor y, Tensor? gate, Tensor? weight, Tensor? bias,
        Tensor? shift, Tensor? scale, double eps, ScalarType dtype, params WanLinear[] readers)
    {
        if (x.dtype == ScalarType.Float32 && FusedQuantizers(x, readers, dtype) is { } smooths)
            using (CudaProfiler.Scope("linear"))
            using (CudaProfiler.Scope("linear/residual + norm + quantize"))
            {
                var distinct = DistinctSmoothings(smooths);
                var (residual, inputs) = Int8Kernels.ResidualLayerNormQuantize(x, y, gate?.to(ScalarType.Float32), weight, bias,
                    shift?.to(ScalarType.Float32), scale?.to(ScalarType.Float32), eps, dtype, distinct);
                return (residual, FromKernel(x.shape, readers, smooths, distinct, inputs));
            }
        using (CudaProfiler.Scope("rest/residual + norm + modulation"))
        {
            var (residual, normed) = FusedOps.ResidualLayerNormModulate(x, y, gate, weight, bias, shift, scale, eps, dtype);
            return (residual, new(x.shape, normed, null, readers));
        }
    }

    /// <summary>The smoothing vectors the quantizing norm makes inputs for: one per distinct vector (or none) among the readers'.</summary>
    static Tensor?[] DistinctSmoothings(Tensor?[] smooths) => smooths.Distinct<Tensor?>(ReferenceEqualityComparer.Instance).ToArray();

    /// <summary>
    /// The readers' inputs as the quantizing norm made them: inputs[i] for the readers smoothed by distinct[i]
    /// (<see cref="DistinctSmoothings"/>), so that readers sharing a smoothing share one input.
    /// </summary>
    static NormedInput FromKernel(long[] shape, WanLinear[] readers, Tensor?[] smooths, Tensor?[] distinct,
        (Tensor Values, Tensor Scale)[] inputs) =>
        new(shape, null,
            readers.Zip(smooths).ToDictionary(p => p.First, p => inputs[Array.FindIndex(distinct, d => ReferenceEquals(d, p.Second))]),
            readers);

    /// <summary>An input already normalized (a module called with a tensor): every layer takes it as it is.</summary>
    public static NormedInput Wrap(Tensor normalized) => new(normalized.shape, normalized, null, []);

    /// <summary>
    /// layer(this) [B, L, N]: from the layer's quantized input where the norm made one, or where another reader with the
    /// same smoothing quantizes the tensor too (made once, by the first of them); else the layer's call.
    /// </summary>
    public Tensor Project(WanLinear layer)
    {
        (Tensor Values, Tensor Scale) input;
        if (quantized is not null) input = NormQuantized(layer);
        else if (SharedInput(layer) is { } shared) input = shared;
        else return layer.call(tensor!);
        var kernel = (CudaInt8LinearKernel)layer.Kernel!;
        using (CudaProfiler.Scope("linear"))
        using (var rows = kernel.ProductOfQuantized(input.Values, input.Scale, layer.Bias))
            return rows.view([.. Shape[..^1], kernel.OutFeatures]);
    }

    /// <summary>
    /// On the tensor path, the quantized input <paramref name="layer"/> shares with another reader of the same smoothing
    /// (made by the first that asks); null where the layer quantizes alone or takes the tensor itself.
    /// </summary>
    (Tensor Values, Tensor Scale)? SharedInput(WanLinear layer)
    {
        if (QuantizingKernel(layer, tensor!) is not { } kernel) return null;
        object key = kernel.Weight.Smooth ?? NoSmoothing;
        bool shared = readers.Any(r => r != layer && QuantizingKernel(r, tensor!) is { } other
                                       && ReferenceEquals(other.Weight.Smooth ?? NoSmoothing, key));
        if (!shared) return null;
        if (sharedInputs.TryGetValue(key, out var input)) return input;
        using (CudaProfiler.Scope("linear"))
        using (var rows = tensor!.reshape(-1, kernel.InFeatures))
            input = kernel.QuantizeInput(rows);
        sharedInputs[key] = input;
        return input;
    }

    /// <summary>
    /// A CUDA W8A8 layer's per-token quantized input rows [B·L, D] (values, scales): the norm's own, or the tensor
    /// quantized by the layer's kernel now; null where the layer cannot take one (it then takes <see cref="Project"/>).
    /// </summary>
    public (Tensor Values, Tensor Scale)? QuantizedFor(WanLinear layer)
    {
        if (quantized is not null) return NormQuantized(layer);
        if (QuantizingKernel(layer, tensor!) is not { } kernel) return null;
        using var rows = tensor!.reshape(-1, kernel.InFeatures);
        return kernel.QuantizeInput(rows);
    }

    (Tensor Values, Tensor Scale) NormQuantized(WanLinear layer) => quantized!.TryGetValue(layer, out var input) ? input
        : throw new TurboException("normed input: this layer was not among the readers the norm quantized for");

    /// <summary>
    /// The readers' smoothing vectors when the norm kernel can quantize for all of them; null when they take the tensor:
    /// each a CUDA W8A8 layer with no observer, x on CUDA and not recording gradients, a width where the fused kernel
    /// is the faster, and the library new enough.
    /// </summary>
    static Tensor?[]? FusedQuantizers(Tensor x, WanLinear[] readers, ScalarType dtype)
    {
        if (readers.Length is < 1 or > Int8Kernels.MaxLayerNormQuantizers || !TurboNative.HasInt8Kernels) return null;
        if (x.dim() != 3 || !FusedOps.QuantizeFusionPays(x.shape[2])) return null;
        if (!Int8Kernels.IsKernelFloat(x.dtype) || !Int8Kernels.IsKernelFloat(dtype)) return null;
        var smooths = new Tensor?[readers.Length];
        for (int i = 0; i < readers.Length; i++)
        {
            if (QuantizingKernel(readers[i], x) is not { } kernel) return null;
            smooths[i] = kernel.Weight.Smooth;
        }
        return smooths;
    }

    /// <summary>
    /// The layer's CUDA W8A8 kernel when it can take a quantized copy of x [..., D] (no observer on the layer, x a
    /// floating-point CUDA tensor of its width, not recording gradients); null when the layer must take x itself.
    /// </summary>
    static CudaInt8LinearKernel? QuantizingKernel(WanLinear layer, Tensor x)
    {
        if (layer.Kernel is not CudaInt8LinearKernel kernel || layer.InputObserver is not null) return null;
        if (x.device_type != DeviceType.CUDA || (is_grad_enabled() && x.requires_grad)) return null;
        if (!x.is_floating_point() || x.dim() < 1 || x.shape[^1] != kernel.InFeatures) return null;
        return kernel;
    }
}
