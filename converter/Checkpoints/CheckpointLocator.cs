using Turbo.Runtime;

namespace Turbo.Converter.Checkpoints;

/// <summary>
/// Turns what a user points at into what holds the weights: a .safetensors file, an index, a folder of shards, or
/// a diffusers repository root (whose DiT lives in transformer/).
/// </summary>
public static class CheckpointLocator
{
    public const string DiffusersTransformerFolder = "transformer";

    public static string Resolve(string path)
    {
        if (File.Exists(path)) return path;
        if (!Directory.Exists(path)) throw new TurboException($"{path}: no such file or folder");
        if (HoldsWeights(path)) return path;
        string transformer = Path.Combine(path, DiffusersTransformerFolder);
        if (Directory.Exists(transformer) && HoldsWeights(transformer)) return transformer;
        throw new TurboException(
            $"{path}: no .safetensors weights in this folder (nor in a {DiffusersTransformerFolder}/ folder of a diffusers repository)");
    }

    static bool HoldsWeights(string folder) =>
        Directory.EnumerateFiles(folder, "*.safetensors").Any() || Directory.EnumerateFiles(folder, "*.safetensors.index.json").Any();
}
