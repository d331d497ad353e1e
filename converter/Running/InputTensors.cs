using Turbo.Runtime;
using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Converter.Running;

/// <summary>Reads the named input tensors a command needs from a safetensors file, with one-line errors.</summary>
public static class InputTensors
{
    /// <summary>The tensors <paramref name="names"/> (CPU, float32) in that order; the caller disposes them.</summary>
    public static Tensor[] Read(string path, string command, params string[] names) => Read(path, command, ScalarType.Float32, names);

    /// <summary>Which of <paramref name="names"/> the inputs file holds, in that order (for commands with optional inputs).</summary>
    public static string[] Present(string path, params string[] names)
    {
        if (!File.Exists(path)) throw new TurboException($"{path}: inputs file not found (--inputs)");
        using var file = SafetensorsFile.Open(path);
        return names.Where(file.Contains).ToArray();
    }

    /// <summary>The tensors <paramref name="names"/> (CPU, as <paramref name="dtype"/>) in that order; the caller disposes them.</summary>
    public static Tensor[] Read(string path, string command, ScalarType dtype, params string[] names)
    {
        if (!File.Exists(path)) throw new TurboException($"{path}: inputs file not found (--inputs)");
        using var file = SafetensorsFile.Open(path);
        foreach (string name in names)
        {
            if (!file.Contains(name))
                throw new TurboException($"{path}: tensor '{name}' is missing ({command} reads {string.Join(", ", names)})");
            var info = file.Info(name);
            if (!info.DType.IsFloatingPoint() && info.DType is not (SafetensorsDType.I64 or SafetensorsDType.I32))
                throw new TurboException($"{path}: tensor '{name}' has dtype {info.DType}, expected a float (or integer timestep) tensor");
            if (info.DType.ToScalarType() is null)
                throw new TurboException($"{path}: tensor '{name}' has dtype {info.DType}, which TorchSharp cannot read; store F32");
        }
        var tensors = new List<Tensor>();
        try
        {
            foreach (string name in names) tensors.Add(file.Read(name).to(dtype, disposeAfter: true));
            return tensors.ToArray();
        }
        catch
        {
            foreach (var t in tensors) t.Dispose();
            throw;
        }
    }
}
