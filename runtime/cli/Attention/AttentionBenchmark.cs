using Turbo.Runtime;
using Turbo.Runtime.Attention;
using Turbo.Runtime.Native;
using static TorchSharp.torch;
using SdpaTimes = System.Collections.Generic.OrderedDictionary<string, double>;  // ms by SDPA backend, in timing order

namespace Turbo.Cli.Attention;

/// <summary>
/// One timed attention: median milliseconds over repeats (CUDA events after warm-up), the dense-equivalent work
/// (4·H·L²·D, what flash attention would do) and the work actually done, the rates they give, and the speed-up over
/// each SDPA baseline of the same run (by its backend's name: "cuDNN", "flash").
/// </summary>
public sealed record AttentionTiming(string Shape, string Method, double Ms, double DenseTflop, double ActualTflop,
    double EffectiveTflops, double ActualTflops, IReadOnlyDictionary<string, double> SpeedupOver);

/// <summary>
/// Self-attention at Wan2.1's shapes (B = 1, D = 128, bf16; 1.3B at 480p: H 12, L 32,760; 14B at 720p: H 40,
/// L 75,600): torch's scaled_dot_product_attention as the baselines, once with cuDNN's fused attention alone (libtorch's
/// default on Hopper) and once with FlashAttention alone (<see cref="SdpaBackends"/>); Sage dense (both tile shapes, each P·V
/// format), each including its preparation passes; SageSLA at 85/90/95% block sparsity (top-k 0.15/0.10/0.05,
/// TurboDiffusion's 128×64 blocks; BF16 P·V, the default, and E4M3 P·V, upstream's), whole (block selection, sparse
/// kernel, linear branch, proj_l), its preparation passes alone and its sparse kernel alone. Where the warpgroup (wgmma) kernel runs, the warp (mma.sync) kernel is timed beside it.
/// Inputs are [B, H, L, D] views of token-major memory, as the model passes them. A selection can narrow the run to
/// one model's shape and to the methods whose names contain a text (SDPA, the baselines, always timed): a profiler
/// then sees only the launches asked for.
/// </summary>
static class AttentionBenchmark
{
    /// <summary>The shapes by the model they come from.</summary>
    public static readonly (string Model, long Heads, long Length)[] Shapes = [("1.3b", 12, 32760), ("14b", 40, 75600)];
    const long HeadDim = 128;

    /// <param name="backToBack">calls inside each timed region (its time divided by them): above 1 the host's work for a
    /// call overlaps the GPU's for the one before</param>
    /// <param name="model">one of <see cref="Shapes"/>' models, or null for all</param>
    /// <param name="only">time only the methods whose names contain this text (any case), or null for all</param>
    public static List<AttentionTiming> Run(Device device, int warmup, int repeats, int backToBack = 1, string? model = null,
        string? only = null)
    {
        if (model is not null && !Shapes.Any(s => s.Model == model))
            throw new TurboException($"unknown model shape '{model}': expected {string.Join(" or ", Shapes.Select(s => s.Model))}");
        bool Wanted(string method) => only is null || method.Contains(only, StringComparison.OrdinalIgnoreCase);
        var results = new List<AttentionTiming>();
        foreach (var (name, heads, length) in Shapes)
            if (model is null || model == name)
                results.AddRange(RunShape(heads, length, device, warmup, repeats, backToBack, Wanted));
        return results;
    }

    static List<AttentionTiming> RunShape(long heads, long length, Device device, int warmup, int repeats, int backToBack,
        Func<string, bool> wanted)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        string shape = $"H {heads} L {length:N0}";
        var (q, k, v) = AttentionSamples.Qkv(1, heads, length, length, HeadDim, ScalarType.BFloat16, tokenMajor: true, device);
        double dense = AttentionFlops.Dense(1, heads, length, length, HeadDim);
        double TimeAction(Action op) => CudaProfiler.MedianMs(() => { for (int i = 0; i < backToBack; i++) op(); }, warmup, repeats) / backToBack;
        double Time(Func<Tensor> op) => TimeAction(() => op().Dispose());

        var sdpaMs = Baselines(() => Time(() => nn.functional.scaled_dot_product_attention(q, k, v)));
        var rows = sdpaMs.Select(b => Row(shape, $"SDPA {b.Key} (bf16)", b.Value, dense, dense, sdpaMs)).ToList();
        foreach (var (blockQ, blockK, pv) in new[] { (128, 64, PvPrecision.Bf16), (128, 64, PvPrecision.Fp8E4M3), (128, 64, PvPrecision.Fp16),
                     (64, 128, PvPrecision.Fp8E4M3) })
        {
            var sage = new NativeSageAttention(blockQ, blockK, pv);
            bool wgmma = SageKernels.AutoIsWgmma(HeadDim, blockQ, blockK);
            string method = $"Sage dense {blockQ}×{blockK} {Format(pv)}";
            if (wanted(method + KernelName(wgmma)))
                rows.Add(Row(shape, method + KernelName(wgmma), Time(() => sage.AttendNative(q, k, v)), dense, dense, sdpaMs));
            if (wgmma && wanted(method + KernelName(false)))
                rows.Add(Row(shape, method + KernelName(false), Time(() => sage.AttendNative(q, k, v, kernel: SageKernel.Mma)), dense, dense, sdpaMs));
        }
        foreach (var pv in new[] { PvPrecision.Bf16, PvPrecision.Fp8E4M3 })
        foreach (double topK in new[] { 0.15, 0.10, 0.05 })
        {
            var config = new AttentionConfig { Kind = AttentionKind.SageSla, TopK = topK, PvPrecision = pv };
            string name = $"SageSLA {(1 - topK) * 100:F0}% sparse {config.BlockQ}×{config.BlockK} {Format(config.PvPrecision)}";
            bool wgmma = SageKernels.AutoIsWgmma(HeadDim, config.BlockQ, config.BlockK);
            string prepName = name + ": preparation and selection", aloneName = name + ": sparse kernel alone";
            string[] selectionNames = [name + ": selection scores", name + ": selection top-k lists"];
            if (!new[] { name, prepName, aloneName + KernelName(wgmma), aloneName + KernelName(false) }.Concat(selectionNames).Any(wanted))
                continue;
            using var sla = new SparseLinearAttention((int)HeadDim, config, device);
            using var map = BlockSelection.Select(q, k, topK, config.BlockQ, config.BlockK);
            double sparse = AttentionFlops.BlockSparse(map, config.BlockQ, config.BlockK, length, length, HeadDim);
            double linear = AttentionFlops.LinearBranch(1, heads, length, length, HeadDim);
            if (wanted(name))
                rows.Add(Row(shape, name, Time(() => sla.Attend(q, k, v)), dense, sparse + linear, sdpaMs));
            // The sparse kernel apart from its preparation passes (INT8 q and smoothed k with their pooled blocks, V's
            // format) and the selection made from those blocks (scores, top-k lists).
            var selected = KeyBlocks.Selected(topK);
            if (wanted(prepName))
            {
                double prepMs = TimeAction(() => SageKernels.Prepare(q, k, v, null, selected, config.BlockQ, config.BlockK, pv).Dispose());
                rows.Add(Row(shape, prepName, prepMs, dense, 0, sdpaMs));
            }
            if (selectionNames.Any(wanted))
                rows.AddRange(Selection(shape, selectionNames, q, k, config, topK, TimeAction, sdpaMs));
            if (!wanted(aloneName + KernelName(wgmma)) && !(wgmma && wanted(aloneName + KernelName(false)))) continue;
            using (var operands = SageKernels.Prepare(q, k, v, null, selected, config.BlockQ, config.BlockK, pv))
            {
                double scale = SageAttention.ScoreScale(HeadDim);
                if (wanted(aloneName + KernelName(wgmma)))
                    rows.Add(Row(shape, aloneName + KernelName(wgmma), Time(() => SageKernels.Launch(operands, scale)), dense, sparse, sdpaMs));
                if (wgmma && wanted(aloneName + KernelName(false)))
                    rows.Add(Row(shape, aloneName + KernelName(false), Time(() => SageKernels.Launch(operands, scale, SageKernel.Mma)), dense, sparse, sdpaMs));
            }
        }
        rows.AddRange(LinearBranch(shape, q, k, v, Time, wanted, sdpaMs));
        rows.AddRange(Passes(shape, q, k, v, TimeAction, wanted, sdpaMs));
        return rows;
    }

    /// <summary>The selection's two steps alone, on the blocks the quantizer pools: the pooled scores, then the top-k lists (named by <paramref name="names"/>).</summary>
    static IEnumerable<AttentionTiming> Selection(string shape, string[] names, Tensor q, Tensor k, AttentionConfig config, double topK,
        Func<Action, double> time, SdpaTimes sdpaMs)
    {
        using var scope = NewDisposeScope();
        long length = k.shape[2];
        double dense = AttentionFlops.Dense(1, q.shape[1], q.shape[2], length, HeadDim);
        var (_, _, pooledQ) = SageKernels.QuantizeBlocks(q, config.BlockQ, pool: true);
        var (_, _, pooledK) = SageKernels.QuantizeBlocks(k, config.BlockK, SageKernels.TokenMean(k, null), pool: true);
        var scores = pooledQ!.matmul(pooledK!.transpose(-1, -2));
        double scoresMs = time(() => pooledQ.matmul(pooledK.transpose(-1, -2)).Dispose());
        double listsMs = time(() =>
        {
            var (indices, counts, _) = SageKernels.TopBlockLists(scores, null, length, config.BlockK, topK);
            indices.Dispose();
            counts.Dispose();
        });
        return [Row(shape, names[0], scoresMs, dense, 0, sdpaMs), Row(shape, names[1], listsMs, dense, 0, sdpaMs)];
    }

    /// <summary>
    /// Each pass around SageSLA's sparse kernel alone, as the 90% call runs it (128×64 blocks, no key lengths): what the
    /// whole call's time beyond its kernel is made of. V's two passes are E4M3 P·V's; BF16 P·V, the default, has none.
    /// </summary>
    static IEnumerable<AttentionTiming> Passes(string shape, Tensor q, Tensor k, Tensor v, Func<Action, double> time, Func<string, bool> wanted,
        SdpaTimes sdpaMs)
    {
        using var scope = NewDisposeScope();
        double dense = AttentionFlops.Dense(1, q.shape[1], q.shape[2], k.shape[2], HeadDim);
        var mean = SageKernels.TokenMean(k, null);
        var scales = SageKernels.E4M3Scales(v, null);
        var foldedT = zeros([1, q.shape[1], SlaLinearKernels.FoldedRows(HeadDim), HeadDim], q.dtype, q.device);
        var bias = zeros([HeadDim], device: q.device);
        var sparse = zeros([1, q.shape[2], q.shape[1], HeadDim], q.dtype, q.device).transpose(1, 2);
        static void Free(params Tensor?[] tensors) { foreach (var t in tensors) t?.Dispose(); }
        // The linear branch's kernels take 16-bit inputs of head dim 64 or 128.
        bool linear = SlaLinearKernels.Supports(q);
        var keySide = linear ? SlaLinearKernels.KeySums(k, v, null) : (KeySide?)null;
        var weight = zeros([HeadDim, HeadDim], device: q.device);
        var passes = new (string Name, bool Runs, Action Run)[]
        {
            ("K mean", true, () => SageKernels.TokenMean(k, null).Dispose()),
            ("V E4M3 scales", true, () => SageKernels.E4M3Scales(v, null).Dispose()),
            ("INT8 q + pooled blocks", true, () => { var (c, s, p) = SageKernels.QuantizeBlocks(q, 128, pool: true); Free(c, s, p); }),
            ("INT8 smoothed k + pooled blocks", true, () => { var (c, s, p) = SageKernels.QuantizeBlocks(k, 64, mean, pool: true); Free(c, s, p); }),
            ("V as the P·V operand", true, () => SageKernels.PrepareValues(v, 64, null, scales).Dispose()),
            ("linear branch: key sums", linear, () => { var side = SlaLinearKernels.KeySums(k, v, null); Free(side.KeyValueSplits, side.KeySumSplits, side.Folded); }),
            ("linear branch: key sums with K mean", linear, () =>
            {
                var side = SlaLinearKernels.KeySums(k, v, null, KeySideStats.KeyMean);
                Free(side.KeyValueSplits, side.KeySumSplits, side.KeyMean, side.Folded);
            }),
            ("linear branch: key sums with K mean and V scales", linear, () =>
            {
                var side = SlaLinearKernels.KeySums(k, v, null, KeySideStats.KeyMeanAndValueScales);
                Free(side.KeyValueSplits, side.KeySumSplits, side.KeyMean, side.ValueScales, side.Folded);
            }),
            ("linear branch: fold", linear, () => SlaLinearKernels.Fold(keySide!.Value, weight).Dispose()),
            ("linear branch: query side", linear, () => SlaLinearKernels.AddLinear(q, foldedT, bias, sparse).Dispose()),
        };
        foreach (var (name, runs, run) in passes)
            if (runs && wanted("SageSLA pass: " + name))
                yield return Row(shape, "SageSLA pass: " + name, time(run), dense, 0, sdpaMs);
    }

    /// <summary>SLA's linear branch alone (with proj_l and the sum with the sparse output): the fused kernels, then the torch ops.</summary>
    static IEnumerable<AttentionTiming> LinearBranch(string shape, Tensor q, Tensor k, Tensor v, Func<Func<Tensor>, double> time,
        Func<string, bool> wanted, SdpaTimes sdpaMs)
    {
        long heads = q.shape[1], length = q.shape[2];
        var weight = randn([HeadDim, HeadDim], device: q.device) * 0.01;
        var bias = zeros([HeadDim], device: q.device);
        var sparse = zeros([1, length, heads, HeadDim], q.dtype, q.device).transpose(1, 2);
        double linear = AttentionFlops.LinearBranch(1, heads, length, length, HeadDim), dense = AttentionFlops.Dense(1, heads, length, length, HeadDim);
        Tensor Branch() => SparseLinearAttention.FoldedLinearBranch(q, k, v, null, weight, bias, sparse);
        if (SlaLinearKernels.Supports(q) && wanted("SLA linear branch (fused kernels)"))
            yield return Row(shape, "SLA linear branch (fused kernels)", time(Branch), dense, linear, sdpaMs);
        if (!wanted("SLA linear branch (torch ops)")) yield break;
        NativeSageAttention.Enabled = false;
        try { yield return Row(shape, "SLA linear branch (torch ops)", time(Branch), dense, linear, sdpaMs); }
        finally { NativeSageAttention.Enabled = true; }
    }

    /// <summary>
    /// SDPA's time with cuDNN's kernel alone and with FlashAttention's alone, by backend name; where this libtorch's
    /// backends cannot be switched, with its own choice of kernel ("libtorch's choice").
    /// </summary>
    static SdpaTimes Baselines(Func<double> timeSdpa) => SdpaBackends.Unavailable is null
        ? new() { [SdpaBackends.Name(SdpaBackend.CuDnn)] = SdpaBackends.With(SdpaBackend.CuDnn, timeSdpa),
                  [SdpaBackends.Name(SdpaBackend.Flash)] = SdpaBackends.With(SdpaBackend.Flash, timeSdpa) }
        : new() { ["libtorch's choice"] = timeSdpa() };

    static AttentionTiming Row(string shape, string method, double ms, double denseFlop, double actualFlop, SdpaTimes sdpaMs) =>
        new(shape, method, ms, denseFlop / 1e12, actualFlop / 1e12, denseFlop / (ms * 1e9), actualFlop / (ms * 1e9),
            new OrderedDictionary<string, double>(sdpaMs.Select(b => KeyValuePair.Create(b.Key, b.Value / ms))));

    static string KernelName(bool wgmma) => wgmma ? " (wgmma)" : " (mma.sync)";

    static string Format(PvPrecision pv) => $"{PvLabels.Of(pv)} P·V";
}
