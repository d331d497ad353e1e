using Turbo.Runtime;
using Turbo.Runtime.Models;

namespace Turbo.Converter.Synth;

/// <summary>Named Wan2.1 sizes a synthetic checkpoint can take.</summary>
public static class SynthPreset
{
    public static readonly string[] Names = ["tiny", "1.3b", "14b"];

    /// <summary>tiny = the golden test config (dim 64, 2 heads of 32, ffn 128, 2 layers, text_dim 48).</summary>
    public static WanConfig Tiny => new() { Dim = 64, NumHeads = 2, FfnDim = 128, NumLayers = 2, TextDim = 48 };

    public static WanConfig Get(string name, int? layers)
    {
        var config = name switch
        {
            "tiny" => Tiny,
            "1.3b" => WanConfig.T2V_1_3B,
            "14b" => WanConfig.T2V_14B,
            _ => throw new TurboException($"unknown preset '{name}': expected {string.Join(", ", Names)}"),
        };
        if (layers is null) return config;
        if (layers <= 0) throw new TurboException($"--layers {layers}: expected a positive number of blocks");
        return config with { NumLayers = layers.Value };
    }
}
