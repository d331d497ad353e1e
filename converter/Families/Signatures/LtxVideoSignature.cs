namespace Turbo.Converter.Families.Signatures;

/// <summary>
/// LTX-Video (diffusers LTXVideoTransformer3DModel). Recognition only: conversion is not implemented, but an
/// LTX-Video checkpoint is named as such instead of "unknown".
/// </summary>
public sealed class LtxVideoSignature : IFamilySignature
{
    public string Family => "ltx-video";
    public string Description => "LTX-Video DiT";

    public IReadOnlyList<NamingSignature> Namings { get; } =
    [
        new("diffusers", "",
            "proj_in.weight", "time_embed.linear.weight", "time_embed.emb.timestep_embedder.linear_1.weight",
            "caption_projection.linear_1.weight", "caption_projection.linear_2.weight",
            "transformer_blocks.#.scale_shift_table", "transformer_blocks.#.attn1.to_q.weight",
            "transformer_blocks.#.attn1.norm_q.weight", "transformer_blocks.#.attn2.to_k.weight",
            "transformer_blocks.#.attn2.to_out.0.weight", "transformer_blocks.#.ff.net.0.proj.weight",
            "transformer_blocks.#.ff.net.2.weight", "scale_shift_table", "proj_out.weight"),
    ];
}
