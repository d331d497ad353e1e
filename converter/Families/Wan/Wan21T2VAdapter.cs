using Turbo.Runtime.IO;

namespace Turbo.Converter.Families.Wan;

/// <summary>
/// Wan2.1 text-to-video DiT (1.3B, 14B, or any size of the same architecture) in the original, diffusers or
/// ComfyUI naming. The signature patterns come from the canonical layout itself, so they cannot drift from it.
/// </summary>
public sealed class Wan21T2VAdapter : IFamilyAdapter
{
    public string Family => "wan2.1";
    public string Description => "Wan2.1 text-to-video DiT";

    public IReadOnlyList<NamingSignature> Namings { get; } = BuildNamings();

    public IAdaptedCheckpoint Adapt(Checkpoint checkpoint, FamilyMatch match, string? configPath) =>
        WanCheckpoint.Adapt(checkpoint, WanNames.Parse(match.Naming), configPath);

    static NamingSignature[] BuildNamings()
    {
        // One block stands for all: "blocks.0." becomes the pattern "blocks.#.".
        var oneBlock = WanLayout.For(new Turbo.Runtime.Models.WanConfig { NumLayers = 1 })
            .Select(e => e.Name.Replace("blocks.0.", "blocks.#.", StringComparison.Ordinal))
            .ToArray();
        string[] Names(WanNaming n) => oneBlock.Select(c => WanNames.ToForeign(c, n == WanNaming.ComfyUI ? WanNaming.Original : n)).ToArray();
        return
        [
            new(WanNaming.Original.Id(), "", Names(WanNaming.Original)),
            new(WanNaming.Diffusers.Id(), "", Names(WanNaming.Diffusers)),
            new(WanNaming.ComfyUI.Id(), WanNames.ComfyPrefix, Names(WanNaming.ComfyUI)),
        ];
    }
}
