namespace Turbo.Converter.Families.Wan;

/// <summary>The tensor-name conventions Wan2.1 DiT checkpoints come in.</summary>
public enum WanNaming
{
    /// <summary>The Wan-AI release (wan/modules/model.py): the project's canonical names.</summary>
    Original,

    /// <summary>diffusers WanTransformer3DModel (condition_embedder..., attn1.to_q, scale_shift_table, proj_out).</summary>
    Diffusers,

    /// <summary>ComfyUI repackaged files: "model.diffusion_model." in front of the original names.</summary>
    ComfyUI,
}

/// <summary>Maps canonical (original) Wan2.1 names to each naming.</summary>
public static class WanNames
{
    public const string ComfyPrefix = "model.diffusion_model.";

    /// <summary>
    /// diffusers' scripts/convert_wan_to_diffusers.py TRANSFORMER_KEYS_RENAME_DICT (text-to-video part), applied as
    /// sequential replacements in this order. The norm2/norm3 triple swaps the names: the original's affine
    /// cross-attention norm3 is diffusers' norm2.
    /// </summary>
    static readonly (string From, string To)[] DiffusersRenames =
    [
        ("time_embedding.0", "condition_embedder.time_embedder.linear_1"),
        ("time_embedding.2", "condition_embedder.time_embedder.linear_2"),
        ("text_embedding.0", "condition_embedder.text_embedder.linear_1"),
        ("text_embedding.2", "condition_embedder.text_embedder.linear_2"),
        ("time_projection.1", "condition_embedder.time_proj"),
        ("head.modulation", "scale_shift_table"),
        ("head.head", "proj_out"),
        ("modulation", "scale_shift_table"),
        ("ffn.0", "ffn.net.0.proj"),
        ("ffn.2", "ffn.net.2"),
        ("norm2", "norm__placeholder"),
        ("norm3", "norm2"),
        ("norm__placeholder", "norm3"),
        ("self_attn.q", "attn1.to_q"),
        ("self_attn.k", "attn1.to_k"),
        ("self_attn.v", "attn1.to_v"),
        ("self_attn.o", "attn1.to_out.0"),
        ("self_attn.norm_q", "attn1.norm_q"),
        ("self_attn.norm_k", "attn1.norm_k"),
        ("cross_attn.q", "attn2.to_q"),
        ("cross_attn.k", "attn2.to_k"),
        ("cross_attn.v", "attn2.to_v"),
        ("cross_attn.o", "attn2.to_out.0"),
        ("cross_attn.norm_q", "attn2.norm_q"),
        ("cross_attn.norm_k", "attn2.norm_k"),
    ];

    public static string ToForeign(string canonical, WanNaming naming) => naming switch
    {
        WanNaming.Original => canonical,
        WanNaming.ComfyUI => ComfyPrefix + canonical,
        WanNaming.Diffusers => DiffusersRenames.Aggregate(canonical, (n, r) => n.Replace(r.From, r.To, StringComparison.Ordinal)),
        _ => throw new ArgumentOutOfRangeException(nameof(naming)),
    };

    public static string Id(this WanNaming naming) => naming switch
    {
        WanNaming.Original => "original",
        WanNaming.Diffusers => "diffusers",
        WanNaming.ComfyUI => "comfyui",
        _ => throw new ArgumentOutOfRangeException(nameof(naming)),
    };

    public static WanNaming Parse(string id) => id switch
    {
        "original" => WanNaming.Original,
        "diffusers" => WanNaming.Diffusers,
        "comfyui" => WanNaming.ComfyUI,
        _ => throw new Turbo.Runtime.TurboException($"unknown Wan naming '{id}': expected original, diffusers or comfyui"),
    };
}
