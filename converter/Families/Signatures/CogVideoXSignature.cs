namespace Turbo.Converter.Families.Signatures;

/// <summary>
/// CogVideoX (diffusers CogVideoXTransformer3DModel). Recognition only: conversion is not implemented, but a
/// CogVideoX checkpoint is named as such instead of "unknown".
/// </summary>
public sealed class CogVideoXSignature : IFamilySignature
{
    public string Family => "cogvideox";
    public string Description => "CogVideoX DiT";

    public IReadOnlyList<NamingSignature> Namings { get; } =
    [
        new("diffusers", "",
            "patch_embed.proj.weight", "patch_embed.text_proj.weight",
            "time_embedding.linear_1.weight", "time_embedding.linear_2.weight",
            "transformer_blocks.#.norm1.linear.weight", "transformer_blocks.#.norm1.norm.weight",
            "transformer_blocks.#.attn1.to_q.weight", "transformer_blocks.#.attn1.to_out.0.weight",
            "transformer_blocks.#.attn1.norm_q.weight", "transformer_blocks.#.norm2.linear.weight",
            "transformer_blocks.#.ff.net.0.proj.weight", "transformer_blocks.#.ff.net.2.weight",
            "norm_final.weight", "norm_out.linear.weight", "proj_out.weight"),
    ];
}
