using System.Text.Json;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Tests.Support;

/// <summary>
/// The tiny random-weight Wan DiT of the golden files, built with the runtime alone (not through the converter's
/// adapters), so that the model tests do not depend on the converter.
/// </summary>
static class GoldenWan
{
    /// <summary>The config from wan_dit.original.config.json; text_dim comes from text_embedding.0.weight, as in real repos.</summary>
    public static WanConfig Config()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Golden.Path(Golden.OriginalConfig)));
        var root = doc.RootElement;
        using var weights = Golden.Open(Golden.OriginalWeights);
        return new WanConfig
        {
            Dim = root.GetProperty("dim").GetInt32(),
            FfnDim = root.GetProperty("ffn_dim").GetInt32(),
            NumHeads = root.GetProperty("num_heads").GetInt32(),
            NumLayers = root.GetProperty("num_layers").GetInt32(),
            InDim = root.GetProperty("in_dim").GetInt32(),
            OutDim = root.GetProperty("out_dim").GetInt32(),
            FreqDim = root.GetProperty("freq_dim").GetInt32(),
            Eps = root.GetProperty("eps").GetDouble(),
            TextLen = root.GetProperty("text_len").GetInt32(),
            TextDim = (int)weights.Info("text_embedding.0.weight").Shape[1],
        };
    }

    /// <summary>The golden model with the golden original weights loaded.</summary>
    public static WanModel LoadModel(ScalarType computeDtype = ScalarType.Float32)
    {
        var model = new WanModel(Config(), computeDtype);
        using var weights = Golden.Open(Golden.OriginalWeights);
        model.LoadWeights(n => weights.Contains(n) ? weights.Info(n).Shape : null, weights.Read, weights.Path);
        return model;
    }

    /// <summary>
    /// <paramref name="model"/>'s output (no gradients) on the golden forward inputs x, timestep and context, the inputs
    /// upstream's <c>out</c> in wan_dit.io.safetensors was computed from.
    /// </summary>
    public static Tensor Forward(WanModel model, WanForwardTrace? trace = null)
    {
        using var io = Golden.Open(Golden.ForwardIO);
        using var x = io.Read("x");
        using var timestep = io.Read("timestep");
        using var context = io.Read("context");
        using var noGrad = no_grad();
        return model.Forward(x, timestep, context, trace);
    }

    /// <summary>
    /// Relative error against upstream of the output and of every intermediate wan_dit.io.safetensors holds
    /// (patch embedding, time embedding and projection, text embedding, each block's output).
    /// </summary>
    public static Dictionary<string, double> ForwardErrors(WanModel model)
    {
        using var trace = new WanForwardTrace();
        using var output = Forward(model, trace);
        using var io = Golden.Open(Golden.ForwardIO);
        double Compare(Tensor ours, string name)
        {
            using var expected = io.Read(name);
            return RelativeError.Of(ours, expected);
        }
        var errors = new Dictionary<string, double>
        {
            ["patch_embedding_out"] = Compare(trace.PatchEmbedding!, "patch_embedding_out"),
            ["temb"] = Compare(trace.TimeEmbedding!, "temb"),
            ["timestep_proj"] = Compare(trace.TimeProjection!, "timestep_proj"),
            ["context_proj"] = Compare(trace.ContextEmbedding!, "context_proj"),
            ["out"] = Compare(output, "out"),
        };
        for (int i = 0; i < trace.BlockOutputs.Count; i++) errors[$"block{i}_out"] = Compare(trace.BlockOutputs[i], $"block{i}_out");
        return errors;
    }
}
