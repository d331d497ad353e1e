using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Turbo.Runtime.Models;

// The building blocks of the UMT5 encoder, registered under transformers' names (SelfAttention, DenseReluDense,
// layer_norm, ...). Parameters are created zero-filled: weights always come from a checkpoint. Parameter fields are
// named like their registered names because TorchSharp's Module.to(device) re-binds moved parameters by field name.
// The residual stream is float32; the Linear layers and attention products run in the encoder's compute dtype.

/// <summary>Bias-free Linear computing in its weight's dtype (the input is cast to it). Registered as <c>weight</c> [out, in].</summary>
public sealed class Umt5Linear : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;

    public Umt5Linear(long inFeatures, long outFeatures, ScalarType dtype, Device device) : base(nameof(Umt5Linear))
    {
        weight = nn.Parameter(zeros(outFeatures, inFeatures, dtype: dtype, device: device));
        register_parameter(nameof(weight), weight);
    }

    public override Tensor forward(Tensor input)
    {
        using var cast = input.to(weight.dtype);
        return nn.functional.linear(cast, weight);
    }
}

/// <summary>A lookup table [rows, width] (<c>weight</c>): the token embedding and the relative-attention bias.</summary>
public sealed class Umt5Embedding : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;

    public Umt5Embedding(long rows, long width, ScalarType dtype, Device device) : base(nameof(Umt5Embedding))
    {
        weight = nn.Parameter(zeros(rows, width, dtype: dtype, device: device));
        register_parameter(nameof(weight), weight);
    }

    public long Rows => weight.shape[0];
    public Device Device => weight.device;

    /// <summary>Indices [...] int64, each in [0, Rows) (checked by the caller) → rows [..., width].</summary>
    public override Tensor forward(Tensor indices)
    {
        using var flat = indices.flatten();
        using var rows = weight.index_select(0, flat);
        return rows.view([.. indices.shape, weight.shape[1]]);
    }
}

/// <summary>
/// Self-attention with this layer's own relative-position bias (in UMT5 every layer has one; in T5 only the first).
/// No 1/√d scaling: T5 folds it into the initialisation of q. Scores, bias and mask are added and soft-maxed in float32.
/// </summary>
public sealed class Umt5Attention : nn.Module
{
    readonly Umt5Linear q, k, v, o;
    readonly Umt5Embedding relativeAttentionBias;
    readonly int heads, headDim;
    readonly ScalarType computeDtype;

    public Umt5Attention(Umt5Config config, ScalarType computeDtype, Device device) : base(nameof(Umt5Attention))
    {
        heads = config.NumHeads;
        headDim = config.DKv;
        this.computeDtype = computeDtype;
        q = new Umt5Linear(config.DModel, config.InnerDim, computeDtype, device);
        k = new Umt5Linear(config.DModel, config.InnerDim, computeDtype, device);
        v = new Umt5Linear(config.DModel, config.InnerDim, computeDtype, device);
        o = new Umt5Linear(config.InnerDim, config.DModel, computeDtype, device);
        relativeAttentionBias = new Umt5Embedding(config.RelativeAttentionNumBuckets, heads, ScalarType.Float32, device);
        register_module("q", q);
        register_module("k", k);
        register_module("v", v);
        register_module("o", o);
        register_module("relative_attention_bias", relativeAttentionBias);
    }

    /// <param name="x">normed hidden states [B, L, D]</param>
    /// <param name="buckets">relative-position buckets [L, L] int64 on the model's device</param>
    /// <param name="maskBias">0 for keys to attend to, a large negative for padding; [B, 1, 1, L] float32</param>
    /// <returns>[B, L, D] in the compute dtype</returns>
    public Tensor Forward(Tensor x, Tensor buckets, Tensor maskBias)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], length = x.shape[1];
        var query = Heads(q.call(x), batch, length);
        var key = Heads(k.call(x), batch, length);
        var value = Heads(v.call(x), batch, length);
        var positionBias = relativeAttentionBias.call(buckets).permute(2, 0, 1).unsqueeze(0); // [1, H, L, L]
        var scores = matmul(query, key.transpose(-1, -2)).to(ScalarType.Float32) + positionBias + maskBias;
        var weights = scores.softmax(-1).to(computeDtype);
        var merged = matmul(weights, value).transpose(1, 2).reshape(batch, length, heads * headDim);
        return o.call(merged).MoveToOuterDisposeScope();
    }

    /// <summary>[B, L, H·d] → [B, H, L, d].</summary>
    Tensor Heads(Tensor t, long batch, long length) => t.view(batch, length, heads, headDim).transpose(1, 2);
}

/// <summary>Gated-GELU feed-forward: wo(gelu_tanh(wi_0 x) · wi_1 x). gelu_new in transformers is the tanh approximation.</summary>
public sealed class Umt5GatedFeedForward : nn.Module<Tensor, Tensor>
{
    readonly Umt5Linear wi0, wi1, wo;

    public Umt5GatedFeedForward(Umt5Config config, ScalarType computeDtype, Device device) : base(nameof(Umt5GatedFeedForward))
    {
        wi0 = new Umt5Linear(config.DModel, config.DFf, computeDtype, device);
        wi1 = new Umt5Linear(config.DModel, config.DFf, computeDtype, device);
        wo = new Umt5Linear(config.DFf, config.DModel, computeDtype, device);
        register_module("wi_0", wi0);
        register_module("wi_1", wi1);
        register_module("wo", wo);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var gate = nn.functional.gelu(wi0.call(x), GELU.Approximate.tanh);
        return wo.call(gate * wi1.call(x)).MoveToOuterDisposeScope();
    }
}

/// <summary>Pre-norm residual self-attention (transformers' <c>layer.0</c>: <c>layer_norm</c>, <c>SelfAttention</c>).</summary>
public sealed class Umt5SelfAttentionLayer : nn.Module
{
    readonly RmsNorm layerNorm;
    readonly Umt5Attention selfAttention;

    public Umt5SelfAttentionLayer(Umt5Config config, ScalarType computeDtype, Device device) : base(nameof(Umt5SelfAttentionLayer))
    {
        selfAttention = new Umt5Attention(config, computeDtype, device);
        layerNorm = new RmsNorm(config.DModel, config.LayerNormEpsilon, device);
        register_module("SelfAttention", selfAttention);
        register_module("layer_norm", layerNorm);
    }

    /// <summary>x [B, L, D] float32 → x + attention(norm(x)), float32.</summary>
    public Tensor Forward(Tensor x, Tensor buckets, Tensor maskBias)
    {
        using var normed = layerNorm.call(x);
        using var attended = selfAttention.Forward(normed, buckets, maskBias);
        return x + attended.to(ScalarType.Float32);
    }
}

/// <summary>Pre-norm residual feed-forward (transformers' <c>layer.1</c>: <c>layer_norm</c>, <c>DenseReluDense</c>).</summary>
public sealed class Umt5FeedForwardLayer : nn.Module<Tensor, Tensor>
{
    readonly RmsNorm layerNorm;
    readonly Umt5GatedFeedForward feedForward;

    public Umt5FeedForwardLayer(Umt5Config config, ScalarType computeDtype, Device device) : base(nameof(Umt5FeedForwardLayer))
    {
        feedForward = new Umt5GatedFeedForward(config, computeDtype, device);
        layerNorm = new RmsNorm(config.DModel, config.LayerNormEpsilon, device);
        register_module("DenseReluDense", feedForward);
        register_module("layer_norm", layerNorm);
    }

    /// <summary>x [B, L, D] float32 → x + ffn(norm(x)), float32.</summary>
    public override Tensor forward(Tensor x)
    {
        using var normed = layerNorm.call(x);
        using var fed = feedForward.call(normed);
        return x + fed.to(ScalarType.Float32);
    }
}

/// <summary>One encoder block, registered as <c>layer.0</c> (self-attention) and <c>layer.1</c> (feed-forward).</summary>
public sealed class Umt5Block : nn.Module
{
    readonly Umt5SelfAttentionLayer selfAttentionLayer;
    readonly Umt5FeedForwardLayer feedForwardLayer;

    public Umt5Block(Umt5Config config, ScalarType computeDtype, Device device) : base(nameof(Umt5Block))
    {
        selfAttentionLayer = new Umt5SelfAttentionLayer(config, computeDtype, device);
        feedForwardLayer = new Umt5FeedForwardLayer(config, computeDtype, device);
        register_module("layer", new ModuleList<nn.Module>(selfAttentionLayer, feedForwardLayer));
    }

    /// <summary>x [B, L, D] float32 → [B, L, D] float32.</summary>
    public Tensor Forward(Tensor x, Tensor buckets, Tensor maskBias)
    {
        using var attended = selfAttentionLayer.Forward(x, buckets, maskBias);
        return feedForwardLayer.call(attended);
    }
}
