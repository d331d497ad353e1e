namespace Turbo.Runtime.IO;

/// <summary>
/// A .safetensors file breaks the format. The message is one line:
/// <c>file: tensor 'name': what is wrong (rule: what the format requires)</c>.
/// </summary>
public sealed class SafetensorsFormatException(string file, string? tensor, string problem, string rule)
    : TurboException($"{file}: {(tensor is null ? "" : $"tensor '{tensor}': ")}{problem} (rule: {rule})")
{
    public string File { get; } = file;
    public string? Tensor { get; } = tensor;
    public string Rule { get; } = rule;
}
