using System.Text.Json;
using System.Text.Json.Nodes;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Quantizer.Calibration;

/// <summary>
/// Calibration statistics on disk, one safetensors file per finished sample (<c>sample-00000.safetensors</c>,
/// written atomically), so an interrupted calibration resumes with the next unfinished sample. <c>settings.json</c>
/// records what produced them; statistics from other settings are never mixed in.
/// Tensors per layer: <c>&lt;layer&gt;.channel_absmax</c> [K] F32, <c>&lt;layer&gt;.token_absmax_histogram</c> [bins] F64,
/// <c>&lt;layer&gt;.rows</c> [R, K] F32.
/// </summary>
public sealed class CalibrationStore
{
    public const string SettingsFile = "settings.json";

    /// <param name="fingerprint">the settings as a flat JSON object of strings/numbers</param>
    public CalibrationStore(string folder, JsonObject fingerprint)
    {
        Folder = folder;
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, SettingsFile);
        string text = fingerprint.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        if (File.Exists(path)) CheckSame(path, fingerprint);
        else
        {
            File.WriteAllText(path + ".tmp", text);
            File.Move(path + ".tmp", path, overwrite: true);
        }
    }

    public string Folder { get; }

    public string SamplePath(int index) => Path.Combine(Folder, $"sample-{index:D5}.safetensors");

    public bool IsDone(int index) => File.Exists(SamplePath(index));

    public void Save(int index, IReadOnlyDictionary<string, LayerStatistics> statistics)
    {
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (layer, s) in statistics)
        {
            tensors[layer + ".channel_absmax"] = s.ChannelAbsMax;
            tensors[layer + ".token_absmax_histogram"] = s.TokenHistogram;
            tensors[layer + ".rows"] = s.Rows;
        }
        SafetensorsWriter.Save(SamplePath(index), tensors);
    }

    /// <summary>The statistics of samples 0..count−1 merged per layer; every file must hold every layer.</summary>
    public Dictionary<string, LayerStatistics> LoadMerged(int count, IReadOnlyList<(string Name, long InFeatures)> layers, int maxRows)
    {
        var parts = layers.ToDictionary(l => l.Name, _ => new List<LayerStatistics>(), StringComparer.Ordinal);
        try
        {
            for (int i = 0; i < count; i++)
            {
                string path = SamplePath(i);
                if (!File.Exists(path)) throw new TurboException($"{path}: calibration statistics missing");
                using var file = SafetensorsFile.Open(path);
                foreach (var (name, k) in layers) parts[name].Add(Read(file, name, k));
            }
            return parts.ToDictionary(p => p.Key, p => LayerStatistics.Merge(p.Value, maxRows), StringComparer.Ordinal);
        }
        finally
        {
            foreach (var s in parts.Values.SelectMany(p => p)) s.Dispose();
        }
    }

    static LayerStatistics Read(SafetensorsFile file, string layer, long k)
    {
        Tensor Get(string suffix, SafetensorsDType dtype, Func<long[], bool> shapeOk, string expected)
        {
            string name = layer + suffix;
            if (!file.Contains(name)) throw new TurboException($"{file.Path}: tensor '{name}' is missing");
            var info = file.Info(name);
            if (info.DType != dtype || !shapeOk(info.Shape))
                throw new TurboException($"{file.Path}: tensor '{name}': expected {dtype} {expected}, found {info.DType} [{string.Join(", ", info.Shape)}]");
            return file.Read(name);
        }
        var channel = Get(".channel_absmax", SafetensorsDType.F32, s => s.SequenceEqual([k]), $"[{k}]");
        var histogram = Get(".token_absmax_histogram", SafetensorsDType.F64, s => s.SequenceEqual([(long)TokenHistogram.Bins]), $"[{TokenHistogram.Bins}]");
        var rows = Get(".rows", SafetensorsDType.F32, s => s.Length == 2 && s[1] == k, $"[R, {k}]");
        return new LayerStatistics(channel, histogram, rows);
    }

    static void CheckSame(string path, JsonObject fingerprint)
    {
        JsonObject? stored;
        try { stored = JsonNode.Parse(File.ReadAllText(path)) as JsonObject; }
        catch (JsonException) { stored = null; }
        if (stored is null) throw new TurboException($"{path}: not a calibration settings file; delete the folder to calibrate afresh");
        foreach (var (key, value) in fingerprint)
        {
            string ours = value?.ToJsonString() ?? "null", theirs = stored[key]?.ToJsonString() ?? "(absent)";
            if (ours != theirs)
                throw new TurboException(
                    $"{path}: these statistics were calibrated with {key} = {theirs}, not {ours}; delete {Path.GetDirectoryName(path)} or use another output folder");
        }
    }
}
