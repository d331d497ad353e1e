namespace Turbo.Converter.Families.Signatures;

/// <summary>
/// HunyuanVideo (original release names and diffusers HunyuanVideoTransformer3DModel). Recognition only:
/// conversion is not implemented, but a HunyuanVideo checkpoint is named as such instead of "unknown".
/// </summary>
public sealed class HunyuanVideoSignature : IFamilySignature
{
    public string Family => "hunyuanvideo";
    public string Description => "HunyuanVideo DiT";

    public IReadOnlyList<NamingSignature> Namings { get; } =
    [
        new("original", "",
            "img_in.proj.weight", "txt_in.input_embedder.weight", "time_in.mlp.0.weight", "vector_in.in_layer.weight",
            "double_blocks.#.img_mod.linear.weight", "double_blocks.#.img_attn_qkv.weight",
            "double_blocks.#.img_attn_proj.weight", "double_blocks.#.txt_attn_qkv.weight",
            "double_blocks.#.img_mlp.fc1.weight", "single_blocks.#.linear1.weight", "single_blocks.#.linear2.weight",
            "single_blocks.#.modulation.linear.weight", "final_layer.linear.weight", "final_layer.adaLN_modulation.1.weight"),
        new("diffusers", "",
            "x_embedder.proj.weight", "context_embedder.proj_in.weight",
            "time_text_embed.timestep_embedder.linear_1.weight", "time_text_embed.text_embedder.linear_1.weight",
            "transformer_blocks.#.norm1.linear.weight", "transformer_blocks.#.norm1_context.linear.weight",
            "transformer_blocks.#.attn.to_q.weight", "transformer_blocks.#.attn.add_q_proj.weight",
            "transformer_blocks.#.attn.to_add_out.weight", "transformer_blocks.#.ff_context.net.0.proj.weight",
            "single_transformer_blocks.#.attn.to_q.weight", "single_transformer_blocks.#.proj_mlp.weight",
            "single_transformer_blocks.#.proj_out.weight", "norm_out.linear.weight", "proj_out.weight"),
    ];
}
