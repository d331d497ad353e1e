using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;

namespace Turbo.Converter.Families.Wan;

/// <summary>
/// Reads a Wan2.1 config off the tensor shapes when no config.json is at hand (ComfyUI single files, say), the way
/// ComfyUI does: head_dim is 128 in every released Wan2.1, so num_heads = dim / 128.
/// </summary>
public static class WanConfigInference
{
    public const int ConventionalHeadDim = 128;

    /// <param name="find">Looks a tensor up by canonical name (null when absent).</param>
    /// <param name="blockIndices">The block indices present ("blocks.N." in every naming).</param>
    public static WanConfig Infer(Func<string, TensorInfo?> find, IEnumerable<int> blockIndices, string source)
    {
        long[] patch = Shape(find, "patch_embedding.weight", 5, source);
        long[] text = Shape(find, "text_embedding.0.weight", 2, source);
        long[] time = Shape(find, "time_embedding.0.weight", 2, source);
        long[] ffn = Shape(find, "blocks.0.ffn.0.weight", 2, source);
        long[] head = Shape(find, "head.head.weight", 2, source);
        int dim = (int)patch[0];
        if (dim % ConventionalHeadDim != 0)
            throw new TurboException(
                $"{source}: cannot infer num_heads: dim {dim} is not a multiple of the usual head_dim {ConventionalHeadDim}; put the model's config.json beside the weights or pass --config");
        int[] patchSize = [(int)patch[2], (int)patch[3], (int)patch[4]];
        int patchVolume = patchSize[0] * patchSize[1] * patchSize[2];
        if (patchVolume <= 0 || head[0] % patchVolume != 0)
            throw new TurboException(
                $"{source}: tensor head.head.weight has {head[0]} output rows, not a multiple of the patch volume {patchVolume} (patch_embedding.weight {Text(patch)})");
        var defaults = new WanConfig();
        return new WanConfig
        {
            Dim = dim,
            InDim = (int)patch[1],
            PatchSize = patchSize,
            TextDim = (int)text[1],
            FreqDim = (int)time[1],
            FfnDim = (int)ffn[0],
            OutDim = (int)(head[0] / patchVolume),
            NumHeads = dim / ConventionalHeadDim,
            NumLayers = blockIndices.DefaultIfEmpty(-1).Max() + 1,
            QkNorm = find("blocks.0.self_attn.norm_q.weight") is not null,
            CrossAttnNorm = find("blocks.0.norm3.weight") is not null,
            Eps = defaults.Eps,
            TextLen = defaults.TextLen,
        };
    }

    static long[] Shape(Func<string, TensorInfo?> find, string canonical, int rank, string source)
    {
        var info = find(canonical)
                   ?? throw new TurboException($"{source}: tensor '{canonical}' is missing (needed to read the config off the shapes)");
        if (info.Shape.Length != rank)
            throw new TurboException($"{source}: tensor '{info.Name}' has shape {info.ShapeText}, expected {rank} dimensions");
        return info.Shape;
    }

    static string Text(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
