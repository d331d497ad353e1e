using TorchSharp;
using TorchSharp.Modules;
using Turbo.Runtime.Attention;
using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Runtime.Models;

/// <summary>
/// The Wan2.1 text-to-video diffusion transformer (upstream <c>wan/modules/model.py</c>), predicting the flow velocity.
/// Parameters carry the original Wan2.1 names (<c>blocks.0.self_attn.q.weight</c>, <c>head.modulation</c>, ...).
///
/// Precision follows upstream's autocast: the Linear layers, the patch embedding and attention run in
/// <see cref="ComputeDtype"/> (weights stored in it); the time embedding, modulation, norms, the residual stream and
/// the head stay float32; the output is float32. A model of compute dtype float64 runs everything in float64 (its
/// <see cref="PreciseDtype"/>): slow, for gradient and tangent checks against finite differences.
///
/// The model attends to exactly the context rows it is given (no padding inside, like diffusers' transformer);
/// pipelines pad prompts to <see cref="WanConfig.TextLen"/> rows with <see cref="PadContext"/> as the original does.
/// </summary>
public sealed class WanModel : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    public WanConfig Config { get; }
    public ScalarType ComputeDtype { get; }

    readonly WanPatchEmbedding patchEmbedding;
    readonly WanMlp textEmbedding;
    readonly WanMlp timeEmbedding;
    readonly WanTimeProjection timeProjection;
    readonly ModuleList<WanAttentionBlock> blocks;
    readonly WanHead head;

    public WanModel(WanConfig config, ScalarType computeDtype = ScalarType.Float32, Device? device = null)
        : base(nameof(WanModel))
    {
        ValidateConfig(config);
        if (computeDtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float64))
            throw new TurboException($"compute dtype {computeDtype}: expected Float32, BFloat16, Float16 (or Float64 for checks)");
        Config = config;
        ComputeDtype = computeDtype;
        device ??= CPU;

        patchEmbedding = new WanPatchEmbedding(config.InDim, config.Dim, config.PatchSize, computeDtype, device);
        textEmbedding = new WanMlp(config.TextDim, config.Dim, config.Dim, WanMlp.GeluTanh, computeDtype, device);
        timeEmbedding = new WanMlp(config.FreqDim, config.Dim, config.Dim, WanMlp.Silu, PreciseDtype, device);
        timeProjection = new WanTimeProjection(config.Dim, device, PreciseDtype);
        blocks = new ModuleList<WanAttentionBlock>(
            Enumerable.Range(0, config.NumLayers).Select(i => new WanAttentionBlock(config with { Attention = config.AttentionOf(i) }, computeDtype, device)).ToArray());
        head = new WanHead(config, device, PreciseDtype);

        register_module("patch_embedding", patchEmbedding);
        register_module("text_embedding", textEmbedding);
        register_module("time_embedding", timeEmbedding);
        register_module("time_projection", timeProjection);
        register_module("blocks", blocks);
        register_module("head", head);
    }

    /// <summary>The dtype of the parts upstream keeps in float32 (float64 in a float64 model); the output's dtype.</summary>
    public ScalarType PreciseDtype => Precise(ComputeDtype);

    internal static ScalarType Precise(ScalarType computeDtype) =>
        computeDtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    /// <summary>The device the parameters live on (inputs are moved there).</summary>
    public Device Device => patchEmbedding.Device;

    public override Tensor forward(Tensor x, Tensor timestep, Tensor context) => Forward(x, timestep, context);

    /// <summary>
    /// x [B, InDim, F, H, W] latents, timestep [B] (σ·1000, one per sample), context [B, L, TextDim] text embeddings
    /// → velocity [B, OutDim, F, H, W] in <see cref="PreciseDtype"/> (float32). When <paramref name="trace"/> is
    /// given, it receives copies of the intermediates (the caller disposes it).
    /// </summary>
    public Tensor Forward(Tensor x, Tensor timestep, Tensor context, WanForwardTrace? trace = null)
    {
        ValidateInputs(x, timestep, context);
        using var scope = NewDisposeScope();
        var device = Device;
        long batch = x.shape[0];
        int[] p = Config.PatchSize;
        long gridF = x.shape[2] / p[0], gridH = x.shape[3] / p[1], gridW = x.shape[4] / p[2];

        var patches = patchEmbedding.call(x.to(device));                                 // [B, D, F', H', W']
        if (trace is not null) trace.PatchEmbedding = WanForwardTrace.Copy(patches);
        var tokens = patches.flatten(2).transpose(1, 2).to(PreciseDtype).contiguous();     // [B, L, D], (f, h, w) order

        var frequencies = SinusoidalEmbedding(timestep.to(device), Config.FreqDim, PreciseDtype);
        var e = timeEmbedding.call(frequencies);                                         // [B, D]
        var e0Flat = timeProjection.call(e);                                             // [B, 6D]
        if (trace is not null)
        {
            trace.TimeEmbedding = WanForwardTrace.Copy(e);
            trace.TimeProjection = WanForwardTrace.Copy(e0Flat);
        }
        var e0 = e0Flat.unflatten(1, [6, Config.Dim]);                                   // [B, 6, D]

        var text = textEmbedding.call(context.to(device));                               // [B, Lc, D]
        if (trace is not null) trace.ContextEmbedding = WanForwardTrace.Copy(text);

        var (cos, sin) = WanRope.Tables(gridF, gridH, gridW, Config.HeadDim, device, PreciseDtype);
        foreach (var block in blocks)
        {
            var next = block.Forward(tokens, e0, text, cos, sin);
            tokens.Dispose();
            tokens = next;
            trace?.BlockOutputs.Add(WanForwardTrace.Copy(tokens));
        }

        var patchValues = head.Forward(tokens, e);                                       // [B, L, pt·ph·pw·Cout]
        return Unpatchify(patchValues, batch, gridF, gridH, gridW).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Timestep embedding [B, dim] float32 (or <paramref name="dtype"/>): [cos(t·f_k), sin(t·f_k)] with
    /// f_k = 10000^(−k/(dim/2)), cos first, computed in float64 like upstream's sinusoidal_embedding_1d.
    /// </summary>
    public static Tensor SinusoidalEmbedding(Tensor timestep, int dim, ScalarType dtype = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        int half = dim / 2;
        var k = arange(half, dtype: ScalarType.Float64, device: timestep.device);
        var frequencies = tensor(10000.0, dtype: ScalarType.Float64, device: timestep.device).pow(-(k / half));
        var angles = outer(timestep.to(ScalarType.Float64), frequencies);
        return cat([angles.cos(), angles.sin()], 1).to(dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// [B, L, pt·ph·pw·C] patch values, channels ordered (pt, ph, pw, c) with c fastest → [B, C, F'·pt, H'·ph, W'·pw].
    /// </summary>
    Tensor Unpatchify(Tensor patchValues, long batch, long gridF, long gridH, long gridW)
    {
        int[] p = Config.PatchSize;
        using var grid = patchValues.view(batch, gridF, gridH, gridW, p[0], p[1], p[2], Config.OutDim);
        using var ordered = grid.permute(0, 7, 1, 4, 2, 5, 3, 6);
        return ordered.reshape(batch, Config.OutDim, gridF * p[0], gridH * p[1], gridW * p[2]);
    }

    /// <summary>
    /// Zero-pads a prompt embedding [B, L, TextDim] to [B, textLen, TextDim], as the original pipeline does before the
    /// model: the padded rows take part in cross-attention (they become non-zero after the text embedding's biases).
    /// </summary>
    public static Tensor PadContext(Tensor context, int textLen)
    {
        if (context.dim() != 3)
            throw new TurboException($"context: expected 3 dims [B, L, TextDim], found {ShapeText(context.shape)}");
        long rows = context.shape[1];
        if (rows > textLen)
            throw new TurboException($"context: {rows} rows exceed the text length {textLen}");
        return nn.functional.pad(context, [0, 0, 0, textLen - rows]);
    }

    /// <summary>
    /// Copies weights from a name → tensor map. Every parameter must be present with its exact shape and a
    /// floating-point dtype, and no unknown name may appear; all of this is checked before anything is copied.
    /// </summary>
    public void LoadWeights(IReadOnlyDictionary<string, Tensor> weights, string source = "weights") =>
        ModuleWeights.Load(this, weights, source);

    /// <summary>
    /// Copies weights one tensor at a time (for memory-mapped checkpoints): <paramref name="shapeOf"/> gives a
    /// tensor's shape or null when absent, and is asked about every parameter before the first read.
    /// </summary>
    public void LoadWeights(Func<string, long[]?> shapeOf, Func<string, Tensor> read, string source) =>
        ModuleWeights.Load(this, shapeOf, read, source);

    void ValidateInputs(Tensor x, Tensor timestep, Tensor context)
    {
        if (x.dim() != 5)
            throw new TurboException($"input x: expected 5 dims [B, C, F, H, W], found {ShapeText(x.shape)}");
        if (!x.is_floating_point())
            throw new TurboException($"input x: expected a floating-point tensor, found {x.dtype}");
        long batch = x.shape[0];
        if (batch < 1)
            throw new TurboException($"input x: expected a batch of at least 1, found {ShapeText(x.shape)}");
        if (x.shape[1] != Config.InDim)
            throw new TurboException($"input x: expected {Config.InDim} channels, found {ShapeText(x.shape)}");
        string[] axes = ["frames", "height", "width"];
        for (int i = 0; i < 3; i++)
        {
            long size = x.shape[2 + i];
            int patch = Config.PatchSize[i];
            if (size < patch || size % patch != 0)
                throw new TurboException(
                    $"input x: {axes[i]} {size} must be a positive multiple of the patch size {patch}, found {ShapeText(x.shape)}");
        }

        if (timestep.dim() != 1 || timestep.shape[0] != batch)
            throw new TurboException($"timestep: expected shape [{batch}] (one per sample), found {ShapeText(timestep.shape)}");
        if (timestep.dtype is ScalarType.Bool || timestep.is_complex())
            throw new TurboException($"timestep: expected a real-valued tensor, found {timestep.dtype}");

        if (context.dim() != 3 || context.shape[0] != batch || context.shape[1] < 1 || context.shape[2] != Config.TextDim)
            throw new TurboException(
                $"context: expected shape [{batch}, L ≥ 1, {Config.TextDim}], found {ShapeText(context.shape)}");
        if (!context.is_floating_point())
            throw new TurboException($"context: expected a floating-point tensor, found {context.dtype}");
    }

    static void ValidateConfig(WanConfig c)
    {
        if (c.Dim <= 0 || c.NumHeads <= 0 || c.Dim % c.NumHeads != 0)
            throw new TurboException($"Wan config: dim {c.Dim} must be a positive multiple of num_heads {c.NumHeads}");
        if (c.HeadDim % 2 != 0 || c.HeadDim < 6)
            throw new TurboException($"Wan config: head dim {c.HeadDim} must be even and at least 6 (3D RoPE)");
        if (c.FreqDim <= 0 || c.FreqDim % 2 != 0)
            throw new TurboException($"Wan config: freq_dim {c.FreqDim} must be positive and even");
        if (c.PatchSize is not { Length: 3 } || c.PatchSize.Any(p => p <= 0))
            throw new TurboException($"Wan config: patch size must be 3 positive integers (t, h, w)");
        if (c.FfnDim <= 0 || c.NumLayers < 0 || c.InDim <= 0 || c.OutDim <= 0 || c.TextDim <= 0 || c.TextLen <= 0)
            throw new TurboException("Wan config: ffn_dim, in_dim, out_dim, text_dim, text_len must be positive");
        if (c.BlockAttention is { } perBlock && perBlock.Count != c.NumLayers)
            throw new TurboException($"Wan config: block attention lists {perBlock.Count} blocks, the model has {c.NumLayers}");
    }

    internal static string ShapeText(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}

/// <summary>
/// One transformer block: modulated self-attention (with RoPE), cross-attention to the text (pre-norm norm3, no
/// modulation, no gate), modulated FFN. The residual stream and the modulation are float32. The norms before
/// self-attention and FFN (upstream norm1/norm2, no parameters) are fused with their modulation, and the gated
/// residual updates are fused too (<see cref="FusedOps"/>).
/// </summary>
public sealed class WanAttentionBlock : nn.Module
{
    readonly Parameter modulation;
    readonly WanAttention selfAttention;
    readonly WanAttention crossAttention;
    readonly WanLayerNorm? norm3;
    readonly WanMlp ffn;
    readonly double eps;
    readonly ScalarType computeDtype;

    // Part of the step outside linears and attention, timed by the per-step breakdown.
    const string ResidualPart = "rest/residual";

    public WanAttentionBlock(WanConfig config, ScalarType computeDtype, Device device) : base(nameof(WanAttentionBlock))
    {
        var precise = WanModel.Precise(computeDtype);
        modulation = nn.Parameter(zeros(1, 6, config.Dim, dtype: precise, device: device));
        selfAttention = new WanAttention(config, computeDtype, device, config.Attention);
        crossAttention = new WanAttention(config, computeDtype, device);
        eps = config.Eps;
        this.computeDtype = computeDtype;
        norm3 = config.CrossAttnNorm ? new WanLayerNorm(config.Dim, config.Eps, affine: true, device, precise) : null;
        ffn = new WanMlp(config.Dim, config.FfnDim, config.Dim, WanMlp.GeluTanh, computeDtype, device);

        register_parameter(nameof(modulation), modulation);
        register_module("self_attn", selfAttention);
        register_module("cross_attn", crossAttention);
        if (norm3 is not null) register_module("norm3", norm3);
        register_module("ffn", ffn);
    }

    /// <summary>x [B, L, D] float32, e0 [B, 6, D] float32, context [B, Lc, D], RoPE tables → [B, L, D] float32.</summary>
    public Tensor Forward(Tensor x, Tensor e0, Tensor context, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        // shift/scale/gate for self-attention, then shift/scale/gate for the FFN; each [B, D]
        var m = (modulation + e0).unbind(1);
        var attended = selfAttention.Forward(
            NormedInput.Of(x, null, null, m[0], m[1], eps, computeDtype, selfAttention.InputLayers(selfAttention: true)),
            keyValueSource: null, rope: (cos, sin));
        // Each residual update that a norm reads next is made by that norm's kernel (NormedInput.AfterResidual).
        NormedInput crossInput;
        if (norm3 is null)
        {
            x = CudaProfiler.Timed(ResidualPart, () => FusedOps.GateResidual(x, attended, m[2]));
            crossInput = NormedInput.Wrap(x);
        }
        else
            (x, crossInput) = NormedInput.AfterResidual(x, attended, m[2], norm3.Weight, norm3.Bias, null, null, eps, computeDtype,
                crossAttention.InputLayers(selfAttention: false));
        var crossAttended = crossAttention.Forward(crossInput, context, rope: null);
        (x, var ffnInput) = NormedInput.AfterResidual(x, crossAttended, null, null, null, m[3], m[4], eps, computeDtype, ffn.InputLayers);
        var fed = ffn.Forward(ffnInput);
        x = CudaProfiler.Timed(ResidualPart, () => FusedOps.GateResidual(x, fed, m[5]));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Multi-head attention with q/k RMSNorm across all heads (before the head split), optional RoPE on q and k, and
/// non-causal attention with scale 1/√head_dim computed by an <see cref="IAttentionBackend"/>. Self-attention passes
/// no key/value source and uses the backend of the model's <see cref="WanConfig.Attention"/>; cross-attention passes
/// the embedded text and is always dense (as in TurboDiffusion, which swaps self-attention only).
/// A backend with parameters (SLA's proj_l) registers under <c>attn_op.local_attn</c>, TurboDiffusion's names
/// (<c>blocks.N.self_attn.attn_op.local_attn.proj_l.weight</c>), so its checkpoints map one to one; dense and
/// Sage attention register nothing, so dense checkpoints load strictly into them.
/// </summary>
public sealed class WanAttention : nn.Module
{
    const string BackendModule = "attn_op", BackendEntry = "local_attn";

    /// <summary>
    /// The parameters a fresh self-attention backend of <paramref name="config"/> adds to every block (SLA's zero
    /// proj_l), under their full names (blocks.N.self_attn.attn_op.local_attn.…), on the CPU; none for dense and Sage.
    /// What an untrained sparse-linear model holds beyond its dense weights, made without building the model.
    /// </summary>
    public static Dictionary<string, Tensor> FreshBackendParameters(WanConfig config)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (int block = 0; block < config.NumLayers; block++)
        {
            if (config.AttentionOf(block).CreateBackend(config.HeadDim) is not nn.Module backend) continue;
            using (backend)
                foreach (var (name, parameter) in backend.named_parameters())
                    result[$"blocks.{block}.self_attn.{BackendModule}.{BackendEntry}.{name}"] = parameter.detach().clone();
        }
        return result;
    }

    const string QkNormPart = "rest/q, k norm (+ RoPE)", LayoutPart = "rest/heads → tokens";

    readonly WanLinear q, k, v, o;
    readonly RmsNorm? normQ, normK;
    readonly IAttentionBackend attention;
    readonly int heads, headDim;
    readonly double eps;
    readonly ScalarType computeDtype;

    /// <param name="attentionConfig">the attention to use; null = dense</param>
    public WanAttention(WanConfig config, ScalarType computeDtype, Device device, AttentionConfig? attentionConfig = null)
        : base(nameof(WanAttention))
    {
        heads = config.NumHeads;
        headDim = config.HeadDim;
        eps = config.Eps;
        this.computeDtype = computeDtype;
        attention = (attentionConfig ?? AttentionConfig.Dense).CreateBackend(headDim, device);
        q = new WanLinear(config.Dim, config.Dim, computeDtype, device);
        k = new WanLinear(config.Dim, config.Dim, computeDtype, device);
        v = new WanLinear(config.Dim, config.Dim, computeDtype, device);
        o = new WanLinear(config.Dim, config.Dim, computeDtype, device);
        register_module("q", q);
        register_module("k", k);
        register_module("v", v);
        register_module("o", o);
        if (attention is nn.Module withParameters)
            register_module(BackendModule, nn.ModuleDict<nn.Module>((BackendEntry, withParameters)));
        if (!config.QkNorm) return;
        normQ = new RmsNorm(config.Dim, config.Eps, device, WanModel.Precise(computeDtype));
        normK = new RmsNorm(config.Dim, config.Eps, device, WanModel.Precise(computeDtype));
        register_module("norm_q", normQ);
        register_module("norm_k", normK);
    }

    /// <summary>
    /// Called with the q, k, v heads ([B, heads, L, headDim], compute dtype) just before they are attended, to
    /// inspect real activations (attention accuracy studies, tests). The tensors are only valid during the call.
    /// </summary>
    public Action<Tensor, Tensor, Tensor>? AttentionInputsObserver { get; set; }

    /// <summary>The layers that read the queries' source: q, and k and v too in self-attention (the norm in front quantizes for them).</summary>
    public WanLinear[] InputLayers(bool selfAttention) => selfAttention ? [q, k, v] : [q];

    /// <param name="input">queries' source [B, L, D] (keys' and values' too in self-attention)</param>
    /// <param name="keyValueSource">keys/values' source [B, Lkv, D], or null for self-attention</param>
    /// <param name="rope">RoPE tables applied to q and k (self-attention only; needs the q/k norm, as in Wan2.1)</param>
    public Tensor Forward(NormedInput input, Tensor? keyValueSource, (Tensor Cos, Tensor Sin)? rope)
    {
        using var scope = NewDisposeScope();
        long batch = input.Shape[0], length = input.Shape[1], kvLength = keyValueSource?.shape[1] ?? length;
        var projectedQ = input.Project(q);
        var query = Heads(CudaProfiler.Timed(QkNormPart, () => NormAndRotate(projectedQ, normQ, rope)), batch, length);
        var projectedK = keyValueSource is null ? input.Project(k) : k.call(keyValueSource);
        var key = Heads(CudaProfiler.Timed(QkNormPart, () => NormAndRotate(projectedK, normK, rope)), batch, kvLength);
        var value = Heads(keyValueSource is null ? input.Project(v) : v.call(keyValueSource), batch, kvLength);
        AttentionInputsObserver?.Invoke(query, key, value);
        Tensor attended;
        using (CudaProfiler.Scope(rope is null ? "cross-attention" : "self-attention"))
            attended = attention.Attend(query, key, value);
        var merged = CudaProfiler.Timed(LayoutPart, () => attended.transpose(1, 2).reshape(batch, length, -1));
        return o.call(merged).MoveToOuterDisposeScope();
    }

    /// <summary>q or k projection → RMSNorm across heads (→ RoPE), [B, L, D] in the projection's dtype.</summary>
    Tensor NormAndRotate(Tensor projected, RmsNorm? norm, (Tensor Cos, Tensor Sin)? rope)
    {
        if (norm is null)
            return rope is null ? projected
                : throw new TurboException("Wan attention: RoPE without the q/k RMSNorm is not supported");
        return FusedOps.RmsNormRope(projected, norm.Weight, rope?.Cos, rope?.Sin, headDim, eps);
    }

    /// <summary>[B, L, D] → [B, heads, L, headDim] in the compute dtype, the layout attention backends take.</summary>
    Tensor Heads(Tensor t, long batch, long length) => t.to(computeDtype).view(batch, length, heads, headDim).transpose(1, 2);
}

/// <summary>
/// Output head: modulated no-affine LayerNorm (shift/scale from the time embedding e, not e0) → Linear, float32
/// (float64 in a float64 model).
/// </summary>
public sealed class WanHead : nn.Module
{
    readonly Parameter modulation;
    readonly WanLayerNorm norm;
    readonly WanLinear head;

    public WanHead(WanConfig config, Device device, ScalarType dtype = ScalarType.Float32) : base(nameof(WanHead))
    {
        modulation = nn.Parameter(zeros(1, 2, config.Dim, dtype: dtype, device: device));
        norm = new WanLayerNorm(config.Dim, config.Eps, affine: false, device, dtype);
        head = new WanLinear(config.Dim, config.OutDim * config.PatchVolume, dtype, device);
        register_parameter(nameof(modulation), modulation);
        register_module(nameof(head), head);
    }

    /// <summary>x [B, L, D] float32, e [B, D] float32 → [B, L, pt·ph·pw·OutDim] float32.</summary>
    public Tensor Forward(Tensor x, Tensor e)
    {
        using var scope = NewDisposeScope();
        var m = (modulation + e.unsqueeze(1)).chunk(2, 1); // shift, scale; each [B, 1, D]
        return head.call(norm.call(x) * (1 + m[1]) + m[0]).MoveToOuterDisposeScope();
    }
}
