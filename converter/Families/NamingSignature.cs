namespace Turbo.Converter.Families;

/// <summary>
/// The tensor names one naming convention of a family is recognised by. <paramref name="Prefix"/> is text in front
/// of every name (ComfyUI's "model.diffusion_model."); patterns apply to the rest.
/// </summary>
public sealed record NamingSignature(string Naming, string Prefix, IReadOnlyList<NamePattern> Patterns)
{
    public NamingSignature(string naming, string prefix, params string[] patterns)
        : this(naming, prefix, patterns.Select(p => new NamePattern(p)).ToArray()) { }

    public bool Explains(string name) =>
        name.StartsWith(Prefix, StringComparison.Ordinal) && Patterns.Any(p => p.Matches(name[Prefix.Length..]));
}
