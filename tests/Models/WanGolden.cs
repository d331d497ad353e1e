using System.Text.Json;
using Turbo.Runtime.IO;
using Turbo.Runtime.Models;
using static TorchSharp.torch;

namespace Turbo.Tests.Models;

/// <summary>The tiny Wan DiT golden files (upstream diffusers on random weights) and helpers to compare against them.</summary>
static class WanGolden
{
    /// <summary>The golden folder: $TURBO_GOLDEN, else ../shared/golden beside the folder holding Toolkit.sln.</summary>
    public static string Folder
    {
        get
        {
            if (Environment.GetEnvironmentVariable("TURBO_GOLDEN") is { Length: > 0 } fromEnv) return fromEnv;
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (System.IO.File.Exists(Path.Combine(dir.FullName, "Toolkit.sln")))
                    return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "golden"));
            throw new DirectoryNotFoundException("Toolkit.sln not found above " + AppContext.BaseDirectory);
        }
    }

    public static string File(string name) => Path.Combine(Folder, name);

    public static string WeightsPath => File("wan_dit.original.safetensors");

    /// <summary>The config from wan_dit.original.config.json; text_dim comes from text_embedding.0.weight, as in real repos.</summary>
    public static WanConfig Config()
    {
        using var doc = JsonDocument.Parse(System.IO.File.ReadAllText(File("wan_dit.original.config.json")));
        var root = doc.RootElement;
        using var weights = SafetensorsFile.Open(WeightsPath);
        return new WanConfig
        {
            Dim = root.GetProperty("dim").GetInt32(),
            FfnDim = root.GetProperty("ffn_dim").GetInt32(),
            NumHeads = root.GetProperty("num_heads").GetInt32(),
            NumLayers = root.GetProperty("num_layers").GetInt32(),
            InDim = root.GetProperty("in_dim").GetInt32(),
            OutDim = root.GetProperty("out_dim").GetInt32(),
            FreqDim = root.GetProperty("freq_dim").GetInt32(),
            Eps = root.GetProperty("eps").GetDouble(),
            TextLen = root.GetProperty("text_len").GetInt32(),
            TextDim = (int)weights.Info("text_embedding.0.weight").Shape[1],
        };
    }

    public static WanModel LoadModel(ScalarType computeDtype = ScalarType.Float32)
    {
        var model = new WanModel(Config(), computeDtype);
        using var weights = SafetensorsFile.Open(WeightsPath);
        model.LoadWeights(n => weights.Contains(n) ? weights.Info(n).Shape : null, weights.Read, weights.Path);
        return model;
    }

    /// <summary>max |ours − expected| / max |expected|, in float64.</summary>
    public static double RelativeError(Tensor ours, Tensor expected)
    {
        Assert.That(ours.shape, Is.EqualTo(expected.shape), "shape");
        using var a = ours.to(ScalarType.Float64);
        using var b = expected.to(ScalarType.Float64);
        using var diff = (a - b).abs().max();
        using var scale = b.abs().max();
        return diff.item<double>() / scale.item<double>();
    }
}
