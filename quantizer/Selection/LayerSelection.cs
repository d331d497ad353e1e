using Turbo.Runtime;

namespace Turbo.Quantizer.Selection;

/// <summary>
/// Which Linear layers get quantized: those matching an include pattern and no exclude pattern. By default every
/// Linear inside the transformer blocks (self/cross-attention q, k, v, o and the FFN); the embeddings, the time
/// projection and the head stay in high precision (norms and the patch embedding are not Linear layers at all).
/// </summary>
public sealed class LayerSelection
{
    public static readonly string[] DefaultIncludes =
        ["blocks.*.self_attn.{q,k,v,o}", "blocks.*.cross_attn.{q,k,v,o}", "blocks.*.ffn.{0,2}"];

    readonly GlobPattern[] _includes, _excludes;

    /// <param name="includes">patterns of layers to quantize; none = <see cref="DefaultIncludes"/></param>
    /// <param name="excludes">patterns of layers to keep in high precision even if included</param>
    public LayerSelection(IEnumerable<string>? includes = null, IEnumerable<string>? excludes = null)
    {
        var included = includes?.ToArray() ?? [];
        _includes = (included.Length == 0 ? DefaultIncludes : included).Select(p => new GlobPattern(p)).ToArray();
        _excludes = (excludes ?? []).Select(p => new GlobPattern(p)).ToArray();
    }

    public IReadOnlyList<string> Includes => _includes.Select(p => p.Text).ToArray();
    public IReadOnlyList<string> Excludes => _excludes.Select(p => p.Text).ToArray();

    public bool Selects(string layer) => _includes.Any(p => p.Matches(layer)) && !_excludes.Any(p => p.Matches(layer));

    /// <summary>
    /// The selected names among <paramref name="layers"/>, in their order. A pattern that matches none of the layers
    /// is an error (most likely a typo), and so is a selection left empty.
    /// </summary>
    public IReadOnlyList<string> Apply(IReadOnlyList<string> layers)
    {
        string example = layers.FirstOrDefault(l => l.StartsWith("blocks.", StringComparison.Ordinal)) ?? layers.FirstOrDefault() ?? "";
        foreach (var (pattern, option) in _includes.Select(p => (p, "--include")).Concat(_excludes.Select(p => (p, "--exclude"))))
            if (!layers.Any(pattern.Matches))
                throw new TurboException($"{option} {pattern.Text}: matches no Linear layer of this model (layers are named like {example})");
        var selected = layers.Where(Selects).ToList();
        if (selected.Count == 0) throw new TurboException("layer selection: every included layer is also excluded; nothing to quantize");
        return selected;
    }
}
