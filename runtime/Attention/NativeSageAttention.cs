using TorchSharp;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Runtime.Attention;

/// <summary>
/// The Sage attention backend: the bundled library's CUDA kernels (<see cref="SageKernels"/>) for CUDA tensors of
/// float32, bfloat16 or float16 when the library is present, the TorchSharp reference <see cref="SageAttention"/>
/// everywhere else (CPU, float64, no library). Both compute the same function — same blocks, same rounding of the
/// INT8 codes, of the scores and P, of V — up to float32 summation order (docs/attention.md; `turbo check-attention`
/// compares them).
/// Head dims other than 64 and 128 go to the kernels zero-padded to the next of those (zero channels add nothing to
/// q·kᵀ, their outputs are dropped), with the softmax scale of the true head dim, exactly as the reference defines it.
/// </summary>
public sealed class NativeSageAttention : IAttentionBackend
{
    /// <summary>When false, the reference runs even where the kernels could (for A/B measurements and checks).</summary>
    public static bool Enabled { get; set; } = true;

    /// <summary>
    /// The TorchSharp reference of the warp kernel and of the warpgroup kernel's dense form: the running max updated
    /// once per key block, lagging by up to 8 with 16-bit P (RowMaxSlack; 0 with E4M3, whose ×448 needs P ≤ 1).
    /// </summary>
    public SageAttention Reference { get; }

    // The reference of the warpgroup kernel over kept blocks, which updates the running max once per two key blocks.
    readonly SageAttention pairedReference;

    public NativeSageAttention(int blockQ = 128, int blockK = 64, PvPrecision pvPrecision = PvPrecision.Bf16)
    {
        float slack = pvPrecision == PvPrecision.Fp8E4M3 ? 0 : SageAttention.MaxRowMaxSlack;
        Reference = new SageAttention(blockQ, blockK, pvPrecision) { RowMaxSlack = slack };
        pairedReference = new SageAttention(blockQ, blockK, pvPrecision) { KeyBlocksPerUpdate = 2, RowMaxSlack = slack };
    }

    /// <summary>
    /// The reference of the kernel that <paramref name="kernel"/> runs for this head dim here (Auto: the one the
    /// models get), with that kernel's key blocks per update (two for the warpgroup kernel over kept blocks, one
    /// otherwise: the warpgroup kernel's dense form has no registers for pairs); the one this backend falls back to,
    /// and the one a kernel is checked against.
    /// </summary>
    public SageAttention ReferenceFor(long headDim, SageKernel kernel = SageKernel.Auto, bool sparse = false) =>
        sparse && RunsWgmma(headDim, kernel) ? pairedReference : Reference;

    /// <summary>True when <paramref name="kernel"/> (Auto: the one the models get) is the warpgroup kernel for this head dim here.</summary>
    public bool RunsWgmma(long headDim, SageKernel kernel = SageKernel.Auto) =>
        kernel == SageKernel.Wgmma || (kernel == SageKernel.Auto && SageKernels.AutoIsWgmma(headDim, Reference.BlockQ, Reference.BlockK));

    /// <summary>True where <see cref="Attend(Tensor, Tensor, Tensor, Tensor?, Tensor?)"/> runs the kernels for these inputs.</summary>
    public static bool RunsNative(Tensor q) =>
        Enabled && q.device_type == DeviceType.CUDA && q.dtype != ScalarType.Float64 && TurboNative.HasAttentionKernels;

    public Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? keyLengths = null) => Attend(q, k, v, keyLengths, blockMap: null);

    /// <summary>As <see cref="SageAttention.Attend(Tensor, Tensor, Tensor, Tensor?, Tensor?)"/>: with a block map, only the kept key blocks.</summary>
    public Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? keyLengths, Tensor? blockMap)
    {
        if (RunsNative(q)) return AttendNative(q, k, v, keyLengths, KeyBlocks.FromMap(blockMap));
        Reference.Validate(q, k, v, keyLengths, blockMap);  // before the head dim is read
        return ReferenceFor(q.shape[3], sparse: blockMap is not null).Attend(q, k, v, keyLengths, blockMap);
    }

    /// <summary>
    /// The kernels, whatever <see cref="Enabled"/> says (the one <paramref name="kernel"/> names; Auto: the fastest that
    /// runs here), over the key blocks <paramref name="keyBlocks"/> names (default: all); a clear error where they
    /// cannot run. <paramref name="keyMean"/> and <paramref name="valueScales"/>: K's mean and V's E4M3 scales where the
    /// caller has them already (<see cref="SageKernels.Prepare"/>; head dims 64 and 128 only, which are not padded).
    /// </summary>
    public Tensor AttendNative(Tensor q, Tensor k, Tensor v, Tensor? keyLengths = null, KeyBlocks keyBlocks = default,
        SageKernel kernel = SageKernel.Auto, Tensor? keyMean = null, Tensor? valueScales = null)
    {
        Reference.Validate(q, k, v, keyLengths, keyBlocks.Map);
        if (keyBlocks.TopK is { } topK && (!(topK > 0 && topK <= 1) || !SageKernels.CanSelect(k.shape[2], Reference.BlockK)))
            throw new TurboException($"Sage kernels: selection needs top-k in (0, 1] and at most {SageKernels.MaxSelectedKeyBlocks} key blocks, " +
                                     $"found top-k {topK} and {(k.shape[2] + Reference.BlockK - 1) / Reference.BlockK} blocks");
        if (q.device_type != DeviceType.CUDA || q.dtype == ScalarType.Float64)
            throw new TurboException($"Sage kernels: expected float32, bfloat16 or float16 tensors on CUDA, found {q.dtype} on {q.device}");
        if (!TurboNative.HasAttentionKernels)
            throw new TurboException($"Sage kernels: the native library has no attention kernels of this version (ABI v{TurboNative.AttentionAbi} or newer): " + TurboNative.Describe());

        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long dim = q.shape[3];
        long kernelDim = SageKernels.KernelHeadDim(dim);
        if (kernelDim != dim && (keyMean is not null || valueScales is not null))
            throw new TurboException($"Sage kernels: statistics of k and v come with head dims 64 and 128 only, found {dim}");
        var (qk, kk, vk) = kernelDim == dim ? (q, k, v) : (PadChannels(q, kernelDim), PadChannels(k, kernelDim), PadChannels(v, kernelDim));
        var output = SageKernels.Attend(qk, kk, vk, keyLengths, keyBlocks, Reference.BlockQ, Reference.BlockK,
            Reference.PvPrecision, SageAttention.ScoreScale(dim), kernel, keyMean, valueScales);
        return (kernelDim == dim ? output : output.narrow(3, 0, dim)).MoveToOuterDisposeScope();
    }

    static Tensor PadChannels(Tensor x, long channels) => nn.functional.pad(x, [0, channels - x.shape[3]]);
}
