using TorchSharp.Modules;
using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Runtime.Models;

/// <summary>
/// The UMT5 text encoder (transformers' <c>UMT5EncoderModel</c>), the text encoder of Wan2.1 at its xxl size.
/// Parameters carry transformers' names: <c>shared.weight</c>, <c>encoder.block.0.layer.0.SelfAttention.q.weight</c>,
/// <c>encoder.block.0.layer.1.DenseReluDense.wi_0.weight</c>, <c>encoder.final_layer_norm.weight</c>, ...
/// The encoder's token embedding is tied to <c>shared.weight</c>; a checkpoint that stores it as
/// <c>encoder.embed_tokens.weight</c> loads too.
///
/// Precision: the embedding, the Linear layers and the attention products run in <see cref="ComputeDtype"/> (weights
/// stored in it); the norms, the relative-position biases, the softmax and the residual stream are float32, and so is
/// the output.
/// </summary>
public sealed class Umt5Encoder : nn.Module<Tensor, Tensor, Tensor>
{
    /// <summary>Transformers' name of the tied token embedding, accepted in place of <c>shared.weight</c>.</summary>
    public const string TiedEmbeddingName = "encoder.embed_tokens.weight";
    const string SharedEmbeddingName = "shared.weight";

    public Umt5Config Config { get; }
    public ScalarType ComputeDtype { get; }

    readonly Umt5Embedding shared;
    readonly Umt5Stack encoder;

    public Umt5Encoder(Umt5Config config, ScalarType computeDtype = ScalarType.Float32, Device? device = null)
        : base(nameof(Umt5Encoder))
    {
        config.Validate();
        if (computeDtype is not (ScalarType.Float32 or ScalarType.BFloat16))
            throw new TurboException($"UMT5 compute dtype {computeDtype}: expected Float32 or BFloat16");
        Config = config;
        ComputeDtype = computeDtype;
        device ??= CPU;
        shared = new Umt5Embedding(config.VocabSize, config.DModel, computeDtype, device);
        encoder = new Umt5Stack(config, computeDtype, device);
        register_module(nameof(shared), shared);
        register_module(nameof(encoder), encoder);
    }

    /// <summary>The device the parameters live on (inputs are moved there).</summary>
    public Device Device => shared.Device;

    /// <summary>
    /// Opens a checkpoint (a .safetensors file, a folder of them, or a sharded index) and builds the encoder from the
    /// config in its metadata entry <c>config</c> or, failing that, the <c>config.json</c> beside it.
    /// </summary>
    public static Umt5Encoder FromCheckpoint(string path, ScalarType computeDtype = ScalarType.Float32, Device? device = null)
    {
        using var checkpoint = Checkpoint.Open(path);
        string configPath = Path.Combine(checkpoint.Root, "config.json");
        var config = checkpoint.Metadata.ContainsKey("config") || !File.Exists(configPath)
            ? Umt5Config.FromMetadata(checkpoint.Metadata, checkpoint.Files[0])
            : Umt5Config.FromFile(configPath);
        var model = new Umt5Encoder(config, computeDtype, device);
        try
        {
            model.LoadWeights(n => checkpoint.Contains(n) ? checkpoint.Info(n).Shape : null, checkpoint.Read, path);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }

    public override Tensor forward(Tensor inputIds, Tensor attentionMask) => Forward(inputIds, attentionMask);

    /// <summary>
    /// inputIds [B, L] integer token ids in [0, VocabSize); attentionMask [B, L] of 0/1 (1 = a real token, 0 = padding
    /// that no position attends to), or null for all ones → last hidden state [B, L, DModel] float32 (padding positions
    /// included, as upstream computes them).
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null)
    {
        ValidateInputs(inputIds, attentionMask);
        using var scope = NewDisposeScope();
        var device = Device;
        long batch = inputIds.shape[0], length = inputIds.shape[1];
        var ids = inputIds.to(ScalarType.Int64).to(device);
        // Transformers adds (1 − mask)·finfo.min; float32's lowest value keeps fully masked rows finite, as upstream.
        var maskBias = attentionMask is null
            ? zeros([batch, 1, 1, length], dtype: ScalarType.Float32, device: device)
            : ((1 - attentionMask.to(ScalarType.Float32)) * float.MinValue).view(batch, 1, 1, length).to(device);
        var buckets = Umt5RelativePosition.Buckets(length, length, Config.RelativeAttentionNumBuckets,
            Config.RelativeAttentionMaxDistance).to(device);
        var embedded = shared.call(ids).to(ScalarType.Float32);
        return encoder.Forward(embedded, buckets, maskBias).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Copies weights from a name → tensor map: every parameter present with its exact shape and a floating-point
    /// dtype, no unknown name; all checked before anything is copied. The tied embedding may come under either name.
    /// </summary>
    public void LoadWeights(IReadOnlyDictionary<string, Tensor> weights, string source = "weights")
    {
        if (weights.ContainsKey(TiedEmbeddingName))
        {
            var renamed = weights.Where(w => w.Key != TiedEmbeddingName).ToDictionary();
            renamed.TryAdd(SharedEmbeddingName, weights[TiedEmbeddingName]);
            weights = renamed;
        }
        ModuleWeights.Load(this, weights, source);
    }

    /// <summary>
    /// Copies weights one tensor at a time (memory-mapped checkpoints): <paramref name="shapeOf"/> gives a tensor's shape
    /// or null when absent, and is asked about every parameter before the first read. Tensors of other modules in the
    /// same checkpoint (a decoder, an LM head) are ignored.
    /// </summary>
    public void LoadWeights(Func<string, long[]?> shapeOf, Func<string, Tensor> read, string source)
    {
        string Stored(string name) =>
            name == SharedEmbeddingName && shapeOf(name) is null && shapeOf(TiedEmbeddingName) is not null
                ? TiedEmbeddingName
                : name;
        ModuleWeights.Load(this, name => shapeOf(Stored(name)), name => read(Stored(name)), source);
    }

    void ValidateInputs(Tensor inputIds, Tensor? attentionMask)
    {
        if (inputIds.dim() != 2 || inputIds.shape[0] < 1 || inputIds.shape[1] < 1)
            throw new TurboException($"input_ids: expected shape [B ≥ 1, L ≥ 1], found {WanModel.ShapeText(inputIds.shape)}");
        if (!IsInteger(inputIds.dtype))
            throw new TurboException($"input_ids: expected an integer tensor, found {inputIds.dtype}");
        // libtorch aborts the process on an out-of-range index, so the range is checked here first.
        using (var ids = inputIds.to(ScalarType.Int64))
        using (var lowest = ids.min())
        using (var highest = ids.max())
        {
            long min = lowest.item<long>(), max = highest.item<long>();
            if (min < 0 || max >= Config.VocabSize)
                throw new TurboException(
                    $"input_ids: token ids must lie in [0, {Config.VocabSize}) (the vocabulary), found [{min}, {max}]");
        }

        if (attentionMask is null) return;
        if (!attentionMask.shape.SequenceEqual(inputIds.shape))
            throw new TurboException(
                $"attention_mask: expected shape {WanModel.ShapeText(inputIds.shape)} like input_ids, found {WanModel.ShapeText(attentionMask.shape)}");
        if (attentionMask.is_complex())
            throw new TurboException($"attention_mask: expected 0/1 values, found a {attentionMask.dtype} tensor");
        using var mask = attentionMask.to(ScalarType.Float64);
        using var isZero = mask.eq(0);
        using var isOne = mask.eq(1);
        using var valid = isZero.logical_or(isOne);
        using var allValid = valid.all();
        if (!allValid.item<bool>())
            throw new TurboException("attention_mask: expected only 0 (padding) and 1 (token) values");
    }

    static bool IsInteger(ScalarType dtype) =>
        dtype is ScalarType.Int64 or ScalarType.Int32 or ScalarType.Int16 or ScalarType.Int8 or ScalarType.Byte;
}

/// <summary>The encoder stack (transformers' <c>encoder</c>): <c>block.N</c> and <c>final_layer_norm</c>.</summary>
public sealed class Umt5Stack : nn.Module
{
    readonly ModuleList<Umt5Block> block;
    readonly RmsNorm finalLayerNorm;

    public Umt5Stack(Umt5Config config, ScalarType computeDtype, Device device) : base(nameof(Umt5Stack))
    {
        block = new ModuleList<Umt5Block>(
            Enumerable.Range(0, config.NumLayers).Select(_ => new Umt5Block(config, computeDtype, device)).ToArray());
        finalLayerNorm = new RmsNorm(config.DModel, config.LayerNormEpsilon, device);
        register_module(nameof(block), block);
        register_module("final_layer_norm", finalLayerNorm);
    }

    /// <summary>Embedded tokens [B, L, D] float32 → final-normed hidden states [B, L, D] float32.</summary>
    public Tensor Forward(Tensor hidden, Tensor buckets, Tensor maskBias)
    {
        using var scope = NewDisposeScope();
        foreach (var layer in block) hidden = layer.Forward(hidden, buckets, maskBias);
        return finalLayerNorm.call(hidden).MoveToOuterDisposeScope();
    }
}
