using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Turbo.Runtime.Models;

// The building blocks of the Wan VAE (diffusers AutoencoderKLWan). The VAE runs a video chunk by chunk in time and
// every causal layer carries what it needs from the previous chunk in a WanVaeFeatureCache, so each layer has a
// ForwardChunk(x, cache). Parameters are created zero-filled (they always come from a checkpoint) and their fields
// are named like their registered names, which TorchSharp's Module.to(device) relies on. Each layer frees its
// intermediates in a dispose scope of its own: at real video sizes one activation is hundreds of megabytes.

/// <summary>A layer of the encoder's or decoder's chunk-wise pass.</summary>
public interface IWanVaeChunkLayer
{
    /// <summary>Runs one time chunk [B, C, F, H, W]; earlier chunks of the same video went through the same cache.</summary>
    Tensor ForwardChunk(Tensor x, WanVaeFeatureCache cache);
}

/// <summary>
/// The frames each causal layer keeps from one chunk for the next, keyed by the layer. It owns the tensors it
/// holds: they outlive the dispose scope of the chunk that produced them, and disposing the cache frees them.
/// </summary>
public sealed class WanVaeFeatureCache : IDisposable
{
    readonly Dictionary<nn.Module, Tensor> past = new(ReferenceEqualityComparer.Instance);

    /// <summary>What <paramref name="layer"/> kept from the previous chunk, or null on the first chunk.</summary>
    public Tensor? Get(nn.Module layer) => past.GetValueOrDefault(layer);

    /// <summary>Replaces (and frees) what <paramref name="layer"/> keeps; takes ownership of <paramref name="frames"/>.</summary>
    public void Set(nn.Module layer, Tensor frames)
    {
        frames.DetachFromDisposeScope();
        if (past.Remove(layer, out var old)) old.Dispose();
        past[layer] = frames;
    }

    public void Dispose()
    {
        foreach (var frames in past.Values) frames.Dispose();
        past.Clear();
    }
}

/// <summary>
/// Conv3d that is causal in time: the time padding (2 × the nominal padding) goes entirely before the first frame,
/// none after, so an output frame sees only its own and earlier input frames. Height and width are zero-padded on
/// both sides as usual. Registered as <c>weight</c> [out, in, kt, kh, kw] and <c>bias</c> [out].
/// </summary>
public sealed class WanCausalConv3d : nn.Module
{
    /// <summary>Input frames carried from chunk to chunk: enough to fill the causal padding of a 3-frame kernel.</summary>
    public const int CacheFrames = 2;

    readonly Parameter weight;
    readonly Parameter bias;
    readonly long[] stride;
    readonly long[] spatialPadding;
    readonly long causalPadding;

    /// <param name="padding">the nominal (t, h, w) padding of the upstream layer; time padding is applied causally</param>
    public WanCausalConv3d(long inChannels, long outChannels, long[] kernel, long[] padding, Device device, long[]? stride = null)
        : base(nameof(WanCausalConv3d))
    {
        weight = nn.Parameter(zeros([outChannels, inChannels, kernel[0], kernel[1], kernel[2]], device: device));
        bias = nn.Parameter(zeros(outChannels, device: device));
        register_parameter(nameof(weight), weight);
        register_parameter(nameof(bias), bias);
        this.stride = stride ?? [1, 1, 1];
        spatialPadding = [0, padding[1], padding[2]];
        causalPadding = 2 * padding[0];
    }

    public Device Device => weight.device;

    /// <summary>
    /// x [B, C, F, H, W]. <paramref name="past"/>, when given, holds the input frames just before x (from the previous
    /// chunk): they take the place of as many leading zero frames of the causal padding. A layer without time
    /// padding ignores it, as upstream does.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? past = null)
    {
        using var scope = NewDisposeScope();
        long padFrames = causalPadding;
        if (past is not null && causalPadding > 0)
        {
            x = cat([past, x], 2);
            padFrames -= past.shape[2];
        }
        if (padFrames > 0) x = nn.functional.pad(x, [0, 0, 0, 0, padFrames, 0]);
        return nn.functional.conv3d(x, weight, bias, stride, spatialPadding).MoveToOuterDisposeScope();
    }

    /// <summary>Runs one chunk with the frames kept from the previous one, then keeps this chunk's for the next.</summary>
    public Tensor ForwardChunk(Tensor x, WanVaeFeatureCache cache)
    {
        var past = cache.Get(this);
        var keep = Tail(x, past);
        var y = Forward(x, past);
        cache.Set(this, keep);
        return y;
    }

    /// <summary>
    /// The input frames to keep for the next chunk: the last <see cref="CacheFrames"/> of x; when x is a single frame,
    /// preceded by the last frame kept before it (upstream's rule, exact whenever chunks are 1 or ≥ 2 frames long).
    /// </summary>
    public static Tensor Tail(Tensor x, Tensor? past)
    {
        long frames = x.shape[2];
        long kept = Math.Min(frames, CacheFrames);
        using var last = x.narrow(2, frames - kept, kept);
        if (kept >= CacheFrames || past is null) return last.clone();
        using var previous = past.narrow(2, past.shape[2] - 1, 1);
        return cat([previous, last], 2);
    }
}

/// <summary>Conv2d applied to every frame (folded into the batch). Registered as <c>weight</c> [out, in, k, k] and <c>bias</c>.</summary>
public sealed class WanVaeConv2d : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter bias;
    readonly long stride;
    readonly long padding;

    public WanVaeConv2d(long inChannels, long outChannels, long kernel, long stride, long padding, Device device)
        : base(nameof(WanVaeConv2d))
    {
        weight = nn.Parameter(zeros([outChannels, inChannels, kernel, kernel], device: device));
        bias = nn.Parameter(zeros(outChannels, device: device));
        register_parameter(nameof(weight), weight);
        register_parameter(nameof(bias), bias);
        this.stride = stride;
        this.padding = padding;
    }

    public override Tensor forward(Tensor x) =>
        nn.functional.conv2d(x, weight, bias, [stride, stride], [padding, padding]);
}

/// <summary>
/// RMS norm over the channel dimension (dim 1): x / ‖x‖₂ · √C · gamma (upstream <c>F.normalize</c>, eps 1e-12). Gamma
/// is [C, 1, 1, 1] for videos [B, C, F, H, W] and [C, 1, 1] for frames [N, C, H, W].
/// </summary>
public sealed class WanVaeRmsNorm : nn.Module<Tensor, Tensor>
{
    readonly Parameter gamma;
    readonly double scale;

    public WanVaeRmsNorm(long channels, int spatialDims, Device device) : base(nameof(WanVaeRmsNorm))
    {
        gamma = nn.Parameter(ones([channels, .. Enumerable.Repeat(1L, spatialDims)], device: device));
        register_parameter(nameof(gamma), gamma);
        scale = Math.Sqrt(channels);
    }

    public override Tensor forward(Tensor x)
    {
        using var normalized = nn.functional.normalize(x, p: 2, dim: 1, eps: 1e-12);
        using var scaled = normalized * scale;
        return scaled * gamma;
    }
}

/// <summary>
/// Holds one layer under a numeric name, so that its parameters are named like the upstream nn.Sequential slot it
/// occupies (<c>resample.1.weight</c>); the Sequential's other slots (padding, upsampling) have no parameters.
/// </summary>
public sealed class WanVaeSequentialSlot : nn.Module
{
    public WanVaeSequentialSlot(int index, nn.Module layer) : base(nameof(WanVaeSequentialSlot)) =>
        register_module(index.ToString(System.Globalization.CultureInfo.InvariantCulture), layer);
}

/// <summary>
/// Residual block: norm1 → SiLU → causal conv1 (3³) → norm2 → SiLU → causal conv2 (3³), plus the input, through a
/// 1×1×1 <c>conv_shortcut</c> when the width changes. (Upstream's dropout sits before conv2; it is 0 for inference.)
/// </summary>
public sealed class WanVaeResidualBlock : nn.Module, IWanVaeChunkLayer
{
    readonly WanVaeRmsNorm norm1;
    readonly WanCausalConv3d conv1;
    readonly WanVaeRmsNorm norm2;
    readonly WanCausalConv3d conv2;
    readonly WanCausalConv3d? convShortcut;

    public WanVaeResidualBlock(long inDim, long outDim, Device device) : base(nameof(WanVaeResidualBlock))
    {
        norm1 = new WanVaeRmsNorm(inDim, 3, device);
        conv1 = new WanCausalConv3d(inDim, outDim, [3, 3, 3], [1, 1, 1], device);
        norm2 = new WanVaeRmsNorm(outDim, 3, device);
        conv2 = new WanCausalConv3d(outDim, outDim, [3, 3, 3], [1, 1, 1], device);
        register_module("norm1", norm1);
        register_module("conv1", conv1);
        register_module("norm2", norm2);
        register_module("conv2", conv2);
        if (inDim == outDim) return;
        convShortcut = new WanCausalConv3d(inDim, outDim, [1, 1, 1], [0, 0, 0], device);
        register_module("conv_shortcut", convShortcut);
    }

    public Tensor ForwardChunk(Tensor x, WanVaeFeatureCache cache)
    {
        using var scope = NewDisposeScope();
        var shortcut = convShortcut?.Forward(x) ?? x;
        var h = conv1.ForwardChunk(nn.functional.silu(norm1.call(x)), cache);
        h = conv2.ForwardChunk(nn.functional.silu(norm2.call(h)), cache);
        return (h + shortcut).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Single-head self-attention within each frame (over its H·W positions), with 1×1 conv projections
/// (<c>to_qkv</c>, <c>proj</c>) and a residual connection. Time is not mixed, so it needs no cache.
/// </summary>
public sealed class WanVaeAttentionBlock : nn.Module<Tensor, Tensor>
{
    readonly WanVaeRmsNorm norm;
    readonly WanVaeConv2d toQkv;
    readonly WanVaeConv2d proj;

    public WanVaeAttentionBlock(long dim, Device device) : base(nameof(WanVaeAttentionBlock))
    {
        norm = new WanVaeRmsNorm(dim, 2, device);
        toQkv = new WanVaeConv2d(dim, 3 * dim, 1, 1, 0, device);
        proj = new WanVaeConv2d(dim, dim, 1, 1, 0, device);
        register_module("norm", norm);
        register_module("to_qkv", toQkv);
        register_module("proj", proj);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], c = x.shape[1], t = x.shape[2], h = x.shape[3], w = x.shape[4];
        var frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w);
        var qkv = toQkv.call(norm.call(frames))                       // [B·T, 3C, H, W]
            .reshape(b * t, 1, 3 * c, h * w).permute(0, 1, 3, 2).contiguous(); // [B·T, 1, H·W, 3C]
        var parts = qkv.chunk(3, -1);                                  // q, k, v: channels [0, C), [C, 2C), [2C, 3C)
        var attended = nn.functional.scaled_dot_product_attention(parts[0], parts[1], parts[2]);
        var projected = proj.call(attended.squeeze(1).permute(0, 2, 1).reshape(b * t, c, h, w));
        var result = projected.view(b, t, c, h, w).permute(0, 2, 1, 3, 4) + x;
        return result.MoveToOuterDisposeScope();
    }
}

public enum WanVaeResampleMode { Downsample2d, Downsample3d, Upsample2d, Upsample3d }

/// <summary>
/// Halves or doubles height and width with a per-frame Conv2d (registered as <c>resample.1</c>): downsampling
/// zero-pads right and bottom by 1 and convolves 3×3 with stride 2; upsampling repeats pixels 2×2 (nearest-exact)
/// and convolves 3×3 to dim/2 channels. The 3d modes also halve or double time with <c>time_conv</c>, a causal
/// (3, 1, 1) conv whose chunk-to-chunk state follows upstream exactly (see <see cref="ForwardChunk"/>).
/// </summary>
public sealed class WanVaeResample : nn.Module, IWanVaeChunkLayer
{
    readonly WanVaeResampleMode mode;
    readonly WanVaeConv2d conv;
    readonly WanCausalConv3d? timeConv;

    public WanVaeResample(long dim, WanVaeResampleMode mode, Device device) : base(nameof(WanVaeResample))
    {
        this.mode = mode;
        bool upsample = mode is WanVaeResampleMode.Upsample2d or WanVaeResampleMode.Upsample3d;
        conv = upsample
            ? new WanVaeConv2d(dim, dim / 2, 3, stride: 1, padding: 1, device)
            : new WanVaeConv2d(dim, dim, 3, stride: 2, padding: 0, device);
        register_module("resample", new WanVaeSequentialSlot(1, conv));
        timeConv = mode switch
        {
            WanVaeResampleMode.Upsample3d => new WanCausalConv3d(dim, 2 * dim, [3, 1, 1], [1, 0, 0], device),
            WanVaeResampleMode.Downsample3d => new WanCausalConv3d(dim, dim, [3, 1, 1], [0, 0, 0], device, stride: [2, 1, 1]),
            _ => null,
        };
        if (timeConv is not null) register_module("time_conv", timeConv);
    }

    public Tensor ForwardChunk(Tensor x, WanVaeFeatureCache cache)
    {
        using var scope = NewDisposeScope();
        if (mode == WanVaeResampleMode.Upsample3d) x = DoubleFrames(x, cache);
        x = PerFrame(x);
        if (mode == WanVaeResampleMode.Downsample3d) x = HalveFrames(x, cache);
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// time_conv makes two output frames of each input frame (its 2·C channels, interleaved in time). The first chunk
    /// (the video's first latent frame) passes through unchanged, so it decodes to one frame; afterwards the conv
    /// sees zeros as its past, which the zero frame kept here reproduces exactly (upstream marks this state "Rep").
    /// </summary>
    Tensor DoubleFrames(Tensor x, WanVaeFeatureCache cache)
    {
        if (cache.Get(timeConv!) is null)
        {
            cache.Set(timeConv!, zeros_like(x.narrow(2, 0, 1)));
            // A first chunk of several frames (a whole clip at once): its first frame passes, the rest continue.
            return x.shape[2] == 1 ? x : cat([x.narrow(2, 0, 1), DoubleFrames(x.narrow(2, 1, x.shape[2] - 1), cache)], 2);
        }
        long b = x.shape[0], c = x.shape[1], t = x.shape[2], h = x.shape[3], w = x.shape[4];
        var doubled = timeConv!.ForwardChunk(x, cache);                      // [B, 2C, T, H, W]
        return doubled.view(b, 2, c, t, h, w).permute(0, 2, 3, 1, 4, 5).reshape(b, c, 2 * t, h, w);
    }

    /// <summary>
    /// time_conv (kernel 3, stride 2, no padding) runs on the previous chunk's last frame followed by this chunk's
    /// frames; the video's first frame passes through unchanged.
    /// </summary>
    Tensor HalveFrames(Tensor x, WanVaeFeatureCache cache)
    {
        var past = cache.Get(timeConv!);
        var keep = x.narrow(2, x.shape[2] - 1, 1).clone();
        // The first chunk's first frame passes; whatever follows it in the same chunk (a whole clip at once) is the
        // continuation, whose past is that first frame.
        var result = past is not null ? timeConv!.Forward(cat([past, x], 2))
            : x.shape[2] == 1 ? x
            : cat([x.narrow(2, 0, 1), timeConv!.Forward(x)], 2);
        cache.Set(timeConv!, keep);
        return result;
    }

    /// <summary>The spatial resampling, each frame on its own: [B, C, T, H, W] → [B, C', T, H', W'].</summary>
    Tensor PerFrame(Tensor x)
    {
        long b = x.shape[0], c = x.shape[1], t = x.shape[2], h = x.shape[3], w = x.shape[4];
        var frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w);
        frames = mode is WanVaeResampleMode.Upsample2d or WanVaeResampleMode.Upsample3d
            ? RepeatPixels(frames)
            : nn.functional.pad(frames, [0, 1, 0, 1]);
        var resampled = conv.call(frames);
        return resampled.view(b, t, resampled.shape[1], resampled.shape[2], resampled.shape[3]).permute(0, 2, 1, 3, 4);
    }

    /// <summary>
    /// Nearest-exact upsampling by exactly 2 (source pixel ⌊(i + ½) / 2⌋ = ⌊i / 2⌋): every pixel repeated 2×2. Written
    /// out because libtorch's interpolate warns on every nearest-exact call.
    /// </summary>
    static Tensor RepeatPixels(Tensor frames)
    {
        long n = frames.shape[0], c = frames.shape[1], h = frames.shape[2], w = frames.shape[3];
        using var grid = frames.reshape(n, c, h, 1, w, 1).expand(n, c, h, 2, w, 2);
        return grid.reshape(n, c, 2 * h, 2 * w);
    }
}

/// <summary>The middle of encoder and decoder: residual block, attention, residual block.</summary>
public sealed class WanVaeMidBlock : nn.Module, IWanVaeChunkLayer
{
    readonly ModuleList<WanVaeResidualBlock> resnets;
    readonly ModuleList<WanVaeAttentionBlock> attentions;

    public WanVaeMidBlock(long dim, Device device) : base(nameof(WanVaeMidBlock))
    {
        resnets = new ModuleList<WanVaeResidualBlock>(new WanVaeResidualBlock(dim, dim, device), new WanVaeResidualBlock(dim, dim, device));
        attentions = new ModuleList<WanVaeAttentionBlock>(new WanVaeAttentionBlock(dim, device));
        register_module("resnets", resnets);
        register_module("attentions", attentions);
    }

    public Tensor ForwardChunk(Tensor x, WanVaeFeatureCache cache)
    {
        using var scope = NewDisposeScope();
        x = resnets[0].ForwardChunk(x, cache);
        x = attentions[0].call(x);
        return resnets[1].ForwardChunk(x, cache).MoveToOuterDisposeScope();
    }
}

/// <summary>A decoder stage: residual blocks, then (all stages but the last) one upsampler.</summary>
public sealed class WanVaeUpBlock : nn.Module, IWanVaeChunkLayer
{
    readonly ModuleList<WanVaeResidualBlock> resnets;
    readonly ModuleList<WanVaeResample>? upsamplers;

    public WanVaeUpBlock(long inDim, long outDim, int residualBlocks, WanVaeResampleMode? upsample, Device device)
        : base(nameof(WanVaeUpBlock))
    {
        resnets = new ModuleList<WanVaeResidualBlock>(Enumerable.Range(0, residualBlocks)
            .Select(i => new WanVaeResidualBlock(i == 0 ? inDim : outDim, outDim, device)).ToArray());
        register_module("resnets", resnets);
        if (upsample is not { } mode) return;
        upsamplers = new ModuleList<WanVaeResample>(new WanVaeResample(outDim, mode, device));
        register_module("upsamplers", upsamplers);
    }

    public Tensor ForwardChunk(Tensor x, WanVaeFeatureCache cache)
    {
        using var scope = NewDisposeScope();
        foreach (var resnet in resnets) x = resnet.ForwardChunk(x, cache);
        if (upsamplers is not null) x = upsamplers[0].ForwardChunk(x, cache);
        return x.MoveToOuterDisposeScope();
    }
}
