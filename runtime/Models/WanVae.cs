using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Turbo.Runtime.Models;

/// <summary>
/// The Wan2.1 video VAE (diffusers <c>AutoencoderKLWan</c>; original <c>wan/modules/vae.py</c>), with diffusers'
/// parameter names (<c>encoder.down_blocks.0.conv1.weight</c>, <c>decoder.up_blocks.0.upsamplers.0.time_conv.weight</c>,
/// <c>quant_conv.weight</c>, ...). Float32; differentiable (callers that only infer wrap calls in no_grad).
///
/// Everything in it is causal in time, and upstream runs it chunk by chunk, each causal layer carrying its last
/// input frames from one chunk to the next (<see cref="WanVaeFeatureCache"/>). Encoding takes the first frame alone,
/// then chunks of 4 frames; decoding takes one latent frame at a time (the first decodes to 1 frame, each later one to
/// 4). The chunked result is not the same as one pass over the whole video (a strided time conv sees different
/// frames), so this model reproduces the chunking exactly.
/// </summary>
public sealed class WanVae : nn.Module
{
    /// <summary>Frames per encoder chunk after the first frame (fixed upstream).</summary>
    public const int EncodeChunkFrames = 4;

    public WanVaeConfig Config { get; }

    readonly WanVaeEncoder encoder;
    readonly WanCausalConv3d quantConv;
    readonly WanCausalConv3d postQuantConv;
    readonly WanVaeDecoder decoder;

    public WanVae(WanVaeConfig config, Device? device = null) : base(nameof(WanVae))
    {
        config.Validate();
        Config = config;
        device ??= CPU;
        encoder = new WanVaeEncoder(config, device);
        quantConv = new WanCausalConv3d(2 * config.ZDim, 2 * config.ZDim, [1, 1, 1], [0, 0, 0], device);
        postQuantConv = new WanCausalConv3d(config.ZDim, config.ZDim, [1, 1, 1], [0, 0, 0], device);
        decoder = new WanVaeDecoder(config, device);
        register_module("encoder", encoder);
        register_module("quant_conv", quantConv);
        register_module("post_quant_conv", postQuantConv);
        register_module("decoder", decoder);
    }

    /// <summary>The device the parameters live on (inputs are moved there).</summary>
    public Device Device => quantConv.Device;

    /// <summary>
    /// Opens a diffusers VAE folder (or weights file) with its <c>config.json</c> beside the weights, builds the VAE
    /// on <paramref name="device"/> and loads it, every name and shape checked first.
    /// </summary>
    public static WanVae FromCheckpoint(string path, Device? device = null)
    {
        using var checkpoint = IO.Checkpoint.Open(path);
        string configPath = Path.Combine(checkpoint.Root, "config.json");
        if (!File.Exists(configPath)) throw new TurboException($"{path}: no config.json beside the VAE weights (expected {configPath})");
        var vae = new WanVae(WanVaeConfig.FromJson(File.ReadAllText(configPath), configPath), device);
        try
        {
            vae.LoadWeights(n => checkpoint.Contains(n) ? checkpoint.Info(n).Shape : null, checkpoint.Read, path);
            vae.eval();
            return vae;
        }
        catch
        {
            vae.Dispose();
            throw;
        }
    }

    /// <summary>
    /// video [B, InChannels, 1 + 4n, H, W] in [−1, 1], H and W multiples of the spatial compression → the encoder's
    /// posterior: mean and log-variance, each [B, ZDim, 1 + 4n / TemporalCompression, H / s, W / s] float32 (the
    /// log-variance clamped to [−30, 20], as upstream's DiagonalGaussianDistribution does).
    /// </summary>
    /// <param name="wholeClip">one pass over the whole clip instead of upstream's chunks: the same numbers (every layer
    /// is causal and its chunk-to-chunk state is exactly its past), far fewer kernel launches, more memory — what
    /// training wants</param>
    public (Tensor Mean, Tensor LogVar) Encode(Tensor video, bool wholeClip = false)
    {
        ValidateVideo(video);
        using var scope = NewDisposeScope();
        var x = video.to(ScalarType.Float32).to(Device);
        long frames = x.shape[2];
        using var cache = new WanVaeFeatureCache();
        var chunks = new List<Tensor>();
        long ChunkLength(long start) => wholeClip ? frames : start == 0 ? 1 : EncodeChunkFrames;
        for (long start = 0; start < frames; start += ChunkLength(start))
        {
            long length = ChunkLength(start);
            using var chunkScope = NewDisposeScope();
            chunks.Add(encoder.ForwardChunk(x.narrow(2, start, length), cache).MoveToOuterDisposeScope());
        }
        var moments = quantConv.Forward(cat(chunks, 2)).chunk(2, 1);
        var mean = moments[0].contiguous();
        var logVar = moments[1].clamp(-30.0, 20.0);
        return (mean.MoveToOuterDisposeScope(), logVar.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// latent [B, ZDim, F, h, w] (un-normalised, as <see cref="Encode"/> gives it; see <see cref="Denormalize"/>) →
    /// video [B, OutChannels, 1 + (F − 1) · TemporalCompression, h · s, w · s] float32, clamped to [−1, 1].
    /// </summary>
    /// <param name="wholeClip">one pass over all latent frames instead of one per chunk (see <see cref="Encode"/>)</param>
    /// <param name="clamp">clamp to [−1, 1] as upstream does; training turns it off, since a clamped pixel passes
    /// no gradient and could stay stuck beyond the range</param>
    public Tensor Decode(Tensor latent, bool wholeClip = false, bool clamp = true)
    {
        ValidateLatent(latent, nameof(latent));
        using var scope = NewDisposeScope();
        var x = postQuantConv.Forward(latent.to(ScalarType.Float32).to(Device));
        using var cache = new WanVaeFeatureCache();
        var chunks = new List<Tensor>();
        long length = wholeClip ? x.shape[2] : 1;
        for (long i = 0; i < x.shape[2]; i += length)
        {
            using var chunkScope = NewDisposeScope();
            chunks.Add(decoder.ForwardChunk(x.narrow(2, i, length), cache).MoveToOuterDisposeScope());
        }
        var video = cat(chunks, 2);
        return (clamp ? video.clamp(-1.0, 1.0) : video).MoveToOuterDisposeScope();
    }

    /// <summary>Posterior mean → the diffusion model's latent: (mean − latents_mean) / latents_std per channel.</summary>
    public Tensor Normalize(Tensor mean)
    {
        ValidateLatent(mean, nameof(mean));
        using var scope = NewDisposeScope();
        var (latentsMean, latentsStd) = NormalizationConstants(mean);
        return ((mean.to(ScalarType.Float32) - latentsMean) / latentsStd).MoveToOuterDisposeScope();
    }

    /// <summary>The diffusion model's latent → the decoder's input: z · latents_std + latents_mean per channel.</summary>
    public Tensor Denormalize(Tensor z)
    {
        ValidateLatent(z, nameof(z));
        using var scope = NewDisposeScope();
        var (latentsMean, latentsStd) = NormalizationConstants(z);
        return (z.to(ScalarType.Float32) * latentsStd + latentsMean).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Copies weights from a name → tensor map (diffusers names). Every parameter must be present with its exact
    /// shape and a floating-point dtype, and no unknown name may appear; all of this is checked before anything is copied.
    /// </summary>
    public void LoadWeights(IReadOnlyDictionary<string, Tensor> weights, string source = "weights") =>
        ModuleWeights.Load(this, weights, source);

    /// <summary>
    /// Copies weights one tensor at a time: <paramref name="shapeOf"/> gives a tensor's shape or null when absent,
    /// and is asked about every parameter before the first read.
    /// </summary>
    public void LoadWeights(Func<string, long[]?> shapeOf, Func<string, Tensor> read, string source) =>
        ModuleWeights.Load(this, shapeOf, read, source);

    (Tensor Mean, Tensor Std) NormalizationConstants(Tensor like)
    {
        var mean = Config.ResolvedLatentsMean;
        var std = Config.ResolvedLatentsStd;
        if (mean is null || std is null)
            throw new TurboException(
                $"Wan VAE: no latents_mean/latents_std for z_dim {Config.ZDim} (Wan2.1's defaults are for z_dim 16): give them in the config");
        var shape = Enumerable.Repeat(1L, (int)like.dim()).ToArray();
        shape[1] = Config.ZDim;
        return (tensor(mean.ToArray(), device: like.device).to(ScalarType.Float32).view(shape),
                tensor(std.ToArray(), device: like.device).to(ScalarType.Float32).view(shape));
    }

    void ValidateVideo(Tensor video)
    {
        if (video.dim() != 5)
            throw new TurboException($"video: expected 5 dims [B, C, F, H, W], found {WanModel.ShapeText(video.shape)}");
        if (!video.is_floating_point())
            throw new TurboException($"video: expected a floating-point tensor, found {video.dtype}");
        long batch = video.shape[0], channels = video.shape[1], frames = video.shape[2];
        if (batch < 1 || channels != Config.InChannels)
            throw new TurboException(
                $"video: expected shape [B ≥ 1, {Config.InChannels}, F, H, W], found {WanModel.ShapeText(video.shape)}");
        if (frames < 1 || (frames - 1) % EncodeChunkFrames != 0)
            throw new TurboException(
                $"video: {frames} frames: expected 1 + {EncodeChunkFrames}·n (1, 5, 9, ...), found {WanModel.ShapeText(video.shape)}");
        int s = Config.SpatialCompression;
        if (video.shape[3] < s || video.shape[3] % s != 0 || video.shape[4] < s || video.shape[4] % s != 0)
            throw new TurboException(
                $"video: height and width must be positive multiples of {s}, found {WanModel.ShapeText(video.shape)}");
    }

    void ValidateLatent(Tensor latent, string name)
    {
        if (latent.dim() != 5 || latent.shape.Any(n => n < 1) || latent.shape[1] != Config.ZDim)
            throw new TurboException(
                $"{name}: expected shape [B, {Config.ZDim}, F, h, w] (all ≥ 1), found {WanModel.ShapeText(latent.shape)}");
        if (!latent.is_floating_point())
            throw new TurboException($"{name}: expected a floating-point tensor, found {latent.dtype}");
    }
}

/// <summary>
/// Encoder: causal conv_in → stages of residual blocks, each stage but the last followed by a downsampler (2d, or 3d
/// where <see cref="WanVaeConfig.TemperalDownsample"/> says so), flattened into <c>down_blocks</c> as upstream does →
/// mid block → norm_out, SiLU, causal conv_out to 2·z_dim channels (mean and log-variance).
/// </summary>
public sealed class WanVaeEncoder : nn.Module, IWanVaeChunkLayer
{
    readonly WanCausalConv3d convIn;
    readonly ModuleList<nn.Module> downBlocks;
    readonly WanVaeMidBlock midBlock;
    readonly WanVaeRmsNorm normOut;
    readonly WanCausalConv3d convOut;

    public WanVaeEncoder(WanVaeConfig config, Device device) : base(nameof(WanVaeEncoder))
    {
        long[] dims = [config.BaseDim, .. config.DimMult.Select(m => (long)config.BaseDim * m)];
        convIn = new WanCausalConv3d(config.InChannels, dims[0], [3, 3, 3], [1, 1, 1], device);
        var layers = new List<nn.Module>();
        for (int stage = 0; stage < config.DimMult.Length; stage++)
        {
            long inDim = dims[stage];
            for (int r = 0; r < config.NumResBlocks; r++, inDim = dims[stage + 1])
                layers.Add(new WanVaeResidualBlock(inDim, dims[stage + 1], device));
            if (stage == config.DimMult.Length - 1) continue;
            var mode = config.TemperalDownsample[stage] ? WanVaeResampleMode.Downsample3d : WanVaeResampleMode.Downsample2d;
            layers.Add(new WanVaeResample(dims[stage + 1], mode, device));
        }
        downBlocks = new ModuleList<nn.Module>(layers.ToArray());
        midBlock = new WanVaeMidBlock(dims[^1], device);
        normOut = new WanVaeRmsNorm(dims[^1], 3, device);
        convOut = new WanCausalConv3d(dims[^1], 2 * config.ZDim, [3, 3, 3], [1, 1, 1], device);
        register_module("conv_in", convIn);
        register_module("down_blocks", downBlocks);
        register_module("mid_block", midBlock);
        register_module("norm_out", normOut);
        register_module("conv_out", convOut);
    }

    public Tensor ForwardChunk(Tensor x, WanVaeFeatureCache cache)
    {
        using var scope = NewDisposeScope();
        x = convIn.ForwardChunk(x, cache);
        foreach (var layer in downBlocks) x = ((IWanVaeChunkLayer)layer).ForwardChunk(x, cache);
        x = midBlock.ForwardChunk(x, cache);
        return convOut.ForwardChunk(nn.functional.silu(normOut.call(x)), cache).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Decoder: causal conv_in from z_dim → mid block → up blocks (widths of the encoder's stages in reverse; each but
/// the last ends in an upsampler to half its width, 3d where the reversed <see cref="WanVaeConfig.TemperalDownsample"/>
/// says so; blocks after the first therefore start at half width) → norm_out, SiLU, causal conv_out to the video channels.
/// </summary>
public sealed class WanVaeDecoder : nn.Module, IWanVaeChunkLayer
{
    readonly WanCausalConv3d convIn;
    readonly WanVaeMidBlock midBlock;
    readonly ModuleList<WanVaeUpBlock> upBlocks;
    readonly WanVaeRmsNorm normOut;
    readonly WanCausalConv3d convOut;

    public WanVaeDecoder(WanVaeConfig config, Device device) : base(nameof(WanVaeDecoder))
    {
        int stages = config.DimMult.Length;
        long[] dims = [config.DecoderDim * config.DimMult[^1], .. config.DimMult.Reverse().Select(m => (long)config.DecoderDim * m)];
        bool[] temporalUpsample = config.TemperalDownsample.Reverse().ToArray();
        convIn = new WanCausalConv3d(config.ZDim, dims[0], [3, 3, 3], [1, 1, 1], device);
        midBlock = new WanVaeMidBlock(dims[0], device);
        upBlocks = new ModuleList<WanVaeUpBlock>(Enumerable.Range(0, stages).Select(i =>
        {
            long inDim = i == 0 ? dims[i] : dims[i] / 2;
            WanVaeResampleMode? upsample = i == stages - 1 ? null
                : temporalUpsample[i] ? WanVaeResampleMode.Upsample3d : WanVaeResampleMode.Upsample2d;
            return new WanVaeUpBlock(inDim, dims[i + 1], config.NumResBlocks + 1, upsample, device);
        }).ToArray());
        normOut = new WanVaeRmsNorm(dims[^1], 3, device);
        convOut = new WanCausalConv3d(dims[^1], config.OutChannels, [3, 3, 3], [1, 1, 1], device);
        register_module("conv_in", convIn);
        register_module("mid_block", midBlock);
        register_module("up_blocks", upBlocks);
        register_module("norm_out", normOut);
        register_module("conv_out", convOut);
    }

    public Tensor ForwardChunk(Tensor x, WanVaeFeatureCache cache)
    {
        using var scope = NewDisposeScope();
        x = convIn.ForwardChunk(x, cache);
        x = midBlock.ForwardChunk(x, cache);
        foreach (var block in upBlocks) x = block.ForwardChunk(x, cache);
        return convOut.ForwardChunk(nn.functional.silu(normOut.call(x)), cache).MoveToOuterDisposeScope();
    }
}
