using TorchSharp;
using TorchSharp.Modules;
using Turbo.Runtime.Native;
using Turbo.Runtime.Quant;
using static TorchSharp.torch;

namespace Turbo.Runtime.Models;

// The small building blocks of the Wan DiT. Parameters are created zero-filled rather than randomly initialised:
// the model always receives its weights from a checkpoint, and random init of billions of values would cost
// minutes for nothing. Parameter fields are named exactly like their registered names because TorchSharp's
// Module.to(device) re-binds moved parameters to fields of the same name.

/// <summary>
/// Linear layer that computes in the dtype of its own weight (the model's compute dtype, e.g. bf16): the input is cast
/// to it, as autocast does upstream. Registered as <c>weight</c> [out, in] and <c>bias</c> [out].
/// <see cref="UseKernel"/> swaps the float weight for another representation (a quantized one, see Quant/): the
/// <c>weight</c> parameter is then gone and the kernel computes the product; the bias stays a parameter.
/// </summary>
public sealed class WanLinear : nn.Module<Tensor, Tensor>
{
    Parameter? weight; // null once a kernel has replaced it
    readonly Parameter bias;
    ILinearKernel? kernel;

    public WanLinear(long inFeatures, long outFeatures, ScalarType dtype, Device device) : base(nameof(WanLinear))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        weight = nn.Parameter(zeros(outFeatures, inFeatures, dtype: dtype, device: device));
        bias = nn.Parameter(zeros(outFeatures, dtype: dtype, device: device));
        register_parameter(nameof(weight), weight);
        register_parameter(nameof(bias), bias);
    }

    public long InFeatures { get; }
    public long OutFeatures { get; }

    /// <summary>The float weight [out, in], or null when a kernel computes this layer.</summary>
    public Tensor? Weight => weight;
    public Tensor Bias => bias;
    public ILinearKernel? Kernel => kernel;

    /// <summary>Called with every input before the product (calibration observers); null for none.</summary>
    public Action<Tensor>? InputObserver { get; set; }

    /// <summary>
    /// Computes this layer with <paramref name="replacement"/> from now on (the layer takes ownership); the float
    /// weight, or a previous kernel, is released. The kernel's tensors stay on their device (Module.to does not
    /// move them): create it on the model's device.
    /// </summary>
    public void UseKernel(ILinearKernel replacement)
    {
        if (replacement.InFeatures != InFeatures || replacement.OutFeatures != OutFeatures)
            throw new TurboException(
                $"linear kernel [{replacement.OutFeatures}, {replacement.InFeatures}] does not fit a layer of [{OutFeatures}, {InFeatures}]");
        if (weight is not null)
        {
            ConditionallyRegisterParameter(nameof(weight), null);
            weight.Dispose();
            weight = null;
        }
        if (!ReferenceEquals(kernel, replacement)) kernel?.Dispose();
        kernel = replacement;
    }

    public override Tensor forward(Tensor input)
    {
        InputObserver?.Invoke(input);
        if (kernel is not null)
            using (CudaProfiler.Scope("linear")) return kernel.Forward(input, bias);
        using var cast = input.to(weight!.dtype);
        using (CudaProfiler.Scope("linear")) return nn.functional.linear(cast, weight, bias);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) kernel?.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>Conv3d with kernel = stride = patch size: cuts the latent into patches and embeds each one.</summary>
public sealed class WanPatchEmbedding : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter bias;
    readonly long[] patch;

    public WanPatchEmbedding(int inChannels, int dim, int[] patchSize, ScalarType dtype, Device device)
        : base(nameof(WanPatchEmbedding))
    {
        patch = patchSize.Select(p => (long)p).ToArray();
        weight = nn.Parameter(zeros([dim, inChannels, patch[0], patch[1], patch[2]], dtype: dtype, device: device));
        bias = nn.Parameter(zeros(dim, dtype: dtype, device: device));
        register_parameter(nameof(weight), weight);
        register_parameter(nameof(bias), bias);
    }

    public Device Device => weight.device;

    public override Tensor forward(Tensor x) =>
        nn.functional.conv3d(x.to(weight.dtype), weight, bias, strides: patch);
}

/// <summary>
/// LayerNorm over the last dimension, computed in float32 (float64 in a float64 model: the dtype it is given).
/// Without affine parameters it registers nothing (Wan's norm1/norm2/head norm); with them it registers
/// <c>weight</c> and <c>bias</c> (Wan's norm3).
/// </summary>
public sealed class WanLayerNorm : nn.Module<Tensor, Tensor>
{
    readonly Parameter? weight;
    readonly Parameter? bias;
    readonly long[] shape;
    readonly double eps;
    readonly ScalarType dtype;

    public WanLayerNorm(int dim, double eps, bool affine, Device device, ScalarType dtype = ScalarType.Float32) : base(nameof(WanLayerNorm))
    {
        shape = [dim];
        this.eps = eps;
        this.dtype = dtype;
        if (!affine) return;
        weight = nn.Parameter(ones(dim, dtype: dtype, device: device));
        bias = nn.Parameter(zeros(dim, dtype: dtype, device: device));
        register_parameter(nameof(weight), weight);
        register_parameter(nameof(bias), bias);
    }

    public Tensor? Weight => weight;
    public Tensor? Bias => bias;

    public override Tensor forward(Tensor x) =>
        nn.functional.layer_norm(x.to(dtype), shape, weight, bias, eps);
}

/// <summary>
/// Linear → activation → Linear, registered as <c>0</c> and <c>2</c> like the upstream nn.Sequential (the
/// activation at index 1 has no parameters). Used for the text embedding, the time embedding and the FFN. A GELU
/// block whose two layers run W8A8 CUDA kernels is computed by <see cref="Int8FeedForward"/> (its middle fused).
/// </summary>
public sealed class WanMlp : nn.Module<Tensor, Tensor>
{
    readonly WanLinear first;
    readonly WanLinear second;
    readonly Func<Tensor, Tensor> activation;

    public WanMlp(int inDim, int hiddenDim, int outDim, Func<Tensor, Tensor> activation, ScalarType dtype, Device device)
        : base(nameof(WanMlp))
    {
        first = new WanLinear(inDim, hiddenDim, dtype, device);
        second = new WanLinear(hiddenDim, outDim, dtype, device);
        this.activation = activation;
        register_module("0", first);
        register_module("2", second);
    }

    public override Tensor forward(Tensor x) => Forward(NormedInput.Wrap(x));

    /// <summary>The block on a norm's output, which may come as the first layer's quantized input (<see cref="NormedInput"/>).</summary>
    public Tensor Forward(NormedInput x)
    {
        if (activation == GeluTanh && Int8FeedForward.TryForward(first, second, x) is { } fused) return fused;
        using var hidden = x.Project(first);
        using var activated = activation(hidden);
        return second.call(activated);
    }

    /// <summary>The layers a norm in front of this block quantizes for: the first.</summary>
    public WanLinear[] InputLayers => [first];

    public static Tensor GeluTanh(Tensor x) => nn.functional.gelu(x, GELU.Approximate.tanh);
    public static Tensor Silu(Tensor x) => nn.functional.silu(x);
}

/// <summary>SiLU → Linear(D → 6D), registered as <c>1</c> like the upstream nn.Sequential(SiLU, Linear).</summary>
public sealed class WanTimeProjection : nn.Module<Tensor, Tensor>
{
    readonly WanLinear linear;

    public WanTimeProjection(int dim, Device device, ScalarType dtype = ScalarType.Float32) : base(nameof(WanTimeProjection))
    {
        linear = new WanLinear(dim, 6 * dim, dtype, device);
        register_module("1", linear);
    }

    public override Tensor forward(Tensor e)
    {
        using var activated = nn.functional.silu(e);
        return linear.call(activated);
    }
}
