using Turbo.Runtime;
using Turbo.Runtime.IO;

namespace Turbo.Converter.Families.Wan;

/// <summary>
/// Wan2.1 relatives that look like a T2V DiT but are not one: named specifically, rather than as a list of
/// "unexpected tensors".
/// </summary>
public static class WanUnsupportedVariants
{
    static readonly string[] ImageConditioningMarkers = ["img_emb.", "cross_attn.k_img.", "attn2.add_k_proj.", "condition_embedder.image_embedder."];

    public static void Reject(IReadOnlyList<TensorInfo> tensors, string source)
    {
        var image = tensors.FirstOrDefault(t => ImageConditioningMarkers.Any(m => t.Name.Contains(m, StringComparison.Ordinal)));
        if (image is not null)
            throw new TurboException(
                $"{source}: tensor '{image.Name}' belongs to an image-to-video Wan2.1 (I2V/FLF2V) DiT; only text-to-video is supported");
        // ComfyUI's legacy "scaled fp8" files carry a marker tensor and per-layer scale_weight tensors.
        var scaled = tensors.FirstOrDefault(t => t.Name.EndsWith("scaled_fp8", StringComparison.Ordinal)
                                                 || t.Name.EndsWith(".scale_weight", StringComparison.Ordinal));
        if (scaled is not null)
            throw new TurboException(
                $"{source}: tensor '{scaled.Name}' marks a ComfyUI scaled-fp8 checkpoint; use the fp32/bf16/fp16 release instead");
    }
}
