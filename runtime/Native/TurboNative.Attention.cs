using System.Runtime.InteropServices;

namespace Turbo.Runtime.Native;

/// <summary>The quantized-attention part of the C ABI (turbo_native.h): see <see cref="SageKernels"/>.</summary>
public static partial class TurboNative
{
    /// <summary>
    /// The ABI version the attention calls below are declared for (11: the quantizer's pooled blocks and
    /// turbo_sla_top_blocks; 12: its codes are the values times the scale's reciprocal, as Int8BlockQuantizer's; 16:
    /// BF16 P·V and the kernel's value layout); an older library takes other arguments or rounds differently, so it is
    /// not used.
    /// </summary>
    public const int AttentionAbi = 16;

    static readonly Lazy<bool> AttentionKernelsLoaded = new(() => IsAvailable && turbo_version() >= AttentionAbi);

    /// <summary>True when the library is present and new enough to have the quantized-attention kernels.</summary>
    public static bool HasAttentionKernels => AttentionKernelsLoaded.Value;

    /// <summary>Mirror of <c>turbo_sage_args</c>: pointers and 64-bit fields, the 32-bit ones, then the value layout (no padding).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SageArgs
    {
        public IntPtr QCodes, QScales, KCodes, KScales, Values, VScales, KeyLengths, KeptBlocks, KeptCounts, Output;
        public long OutStrideB, OutStrideH, OutStrideL;
        public long Batch, Heads, QueryLength, KeyLength;
        public int HeadDim, BlockQ, BlockK, MaxKept, OutDtype;
        public float ScoreScale;
        public int Kernel;
        public int ValuesDtype;
        public long ValueStrideB, ValueStrideH, ValueStrideL;
        public long ValuesLength;
    }

    /// <summary>First ABI version whose attention call takes a kernel choice and has the warpgroup (wgmma) kernel.</summary>
    const int WgmmaAttentionAbi = 8;

    static readonly Lazy<bool> WgmmaAttentionUsable = new(() =>
        IsAvailable && turbo_version() >= WgmmaAttentionAbi && turbo_sage_wgmma_available() == 1);

    /// <summary>True when the warpgroup attention kernel can run here (a compute capability 9.0 GPU, a library built for sm_90a).</summary>
    public static bool HasWgmmaAttention => WgmmaAttentionUsable.Value;

    /// <summary>
    /// The ABI version SLA's fused linear branch (turbo_sla_key_sums, turbo_sla_fold, turbo_sla_linear_out) is used
    /// from: 19, where turbo_sla_fold may overlap the kernel before it (18: the fold makes F from the key side's split
    /// sums; 17: the key side gives K's mean alone or with V's scales and turbo_sla_key_tokens_per_split sizes its splits).
    /// </summary>
    const int SlaLinearAbi = 19;

    static readonly Lazy<bool> SlaLinearLoaded = new(() => IsAvailable && turbo_version() >= SlaLinearAbi);

    /// <summary>True when the library has SLA's fused linear-branch kernels (<see cref="SlaLinearKernels"/>).</summary>
    public static bool HasSlaLinearKernels => SlaLinearLoaded.Value;

    internal const int StatMean = 0;
    internal const int StatE4M3Scale = 1;

    [DllImport(Lib)] internal static extern long turbo_channel_stats_workspace(long batch, long heads, long length, int dim);

    [DllImport(Lib)]
    internal static extern int turbo_channel_stats(IntPtr x, int dtype, long[] strides, IntPtr keyLengths, long batch,
        long heads, long length, int dim, int mode, IntPtr partial, IntPtr output, IntPtr stream);

    [DllImport(Lib)]
    internal static extern int turbo_quantize_int8_blocks(IntPtr x, int dtype, long[] strides, IntPtr mean, IntPtr keyLengths,
        long batch, long heads, long length, int dim, int block, IntPtr codes, IntPtr scales, IntPtr pooled, IntPtr stream);

    [DllImport(Lib)]
    internal static extern int turbo_prepare_values(IntPtr v, int dtype, long[] strides, IntPtr keyLengths, IntPtr e4m3Scales,
        long batch, long heads, long length, int dim, int block, int valuesDtype, IntPtr values, IntPtr stream);

    [DllImport(Lib)]
    internal static extern int turbo_sla_top_blocks(IntPtr scores, long batch, long heads, int queryBlocks, int keyBlocks,
        IntPtr keyLengths, long length, int blockK, double topK, IntPtr indices, IntPtr counts, IntPtr stream);

    [DllImport(Lib)]
    internal static extern int turbo_block_map_indices(IntPtr map, long rows, int blocks, int maxKept, IntPtr indices,
        IntPtr counts, IntPtr stream);

    [DllImport(Lib)] internal static extern int turbo_sage_attention(in SageArgs args, IntPtr stream);

    [DllImport(Lib)] static extern int turbo_sage_wgmma_available();

    [DllImport(Lib)]
    internal static extern int turbo_sla_key_sums(IntPtr k, long[] kStrides, IntPtr v, long[] vStrides, int dtype, IntPtr keyLengths,
        long batch, long heads, long length, int dim, long tokensPerSplit, IntPtr kvPartial, IntPtr ksumPartial, IntPtr statsPartial,
        IntPtr kMean, IntPtr vScales, IntPtr stream);

    [DllImport(Lib)] internal static extern long turbo_sla_key_tokens_per_split(long batch, long heads, long length, int dim);

    [DllImport(Lib)]
    internal static extern int turbo_sla_fold(IntPtr kvPartial, IntPtr ksumPartial, long splits, IntPtr weight, int dtype,
        long batchHeads, int dim, IntPtr foldedT, int overlapPrevious, IntPtr stream);

    [DllImport(Lib)]
    internal static extern int turbo_sla_linear_out(IntPtr q, long[] qStrides, IntPtr foldedT, IntPtr bias, IntPtr sparse,
        long[] sparseStrides, IntPtr output, long[] outStrides, int dtype, long batch, long heads, long length, int dim, IntPtr stream);
}
